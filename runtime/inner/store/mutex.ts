import { MAX_WAITING_TRANSACTIONS } from './limits.js';
import { StoreError } from './errors.js';

// First come, first served: transactions run in the order they were asked for, so a
// burst of writers cannot starve an early one.
export class FifoMutex {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  // `unbounded` is for close(), which must queue behind everything however full.
  acquire(unbounded = false): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    if (!unbounded && this.waiting.length >= MAX_WAITING_TRANSACTIONS) {
      return Promise.reject(new StoreError('STORE_BUSY'));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // The lock passes straight to the next waiter, so no newcomer can slip in between.
    if (next) next();
    else this.held = false;
  }
}
