// Circuit breaker in front of the payment server: after repeated failures the relay
// stops calling for a cool-down, then lets one probe through; its success closes the
// breaker and releases the waiting orders, its failure opens it again. Orders do not
// fail while it is open: they wait (orders wait in the journal and drain when it returns).
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../../common/clock.js';
import { assert } from '../../common/errors.js';

// Five consecutive failures: more than a single dropped connection or one 500, few
// enough that an outage is noticed within seconds under load.
export const BREAKER_FAILURE_THRESHOLD = 5;
// Long enough for a restarting payment server to come back, short enough that a
// kiosk user is still waiting when it does.
export const BREAKER_COOL_DOWN_MS = 10_000;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  coolDownMs: number;
  clock?: Clock; // the cool-down's time and its wake-up timers
}

export class CircuitBreaker extends EventEmitter<{ state: [BreakerState] }> {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAtMs = 0;
  private probing = false;
  private waiters: Array<() => void> = [];
  private readonly clock: Clock;

  constructor(private readonly opts: BreakerOptions = { failureThreshold: BREAKER_FAILURE_THRESHOLD, coolDownMs: BREAKER_COOL_DOWN_MS }) {
    super();
    assert(opts.failureThreshold >= 1, 'failure threshold is at least 1');
    assert(opts.coolDownMs > 0, 'cool-down is positive');
    this.clock = opts.clock ?? systemClock;
  }

  get state(): BreakerState {
    return this.current;
  }

  // Resolves when a call may go out: at once while closed; while open, after the
  // cool-down, one caller at a time as the probe. The caller then reports
  // success() or failure() exactly once. Resolves false if the signal aborts.
  async admit(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const remainingMs = this.openedAtMs + this.opts.coolDownMs - this.clock.now();
      if (this.current === 'open' && remainingMs <= 0) this.transition('half-open');
      if (this.current === 'closed') return true;
      if (this.current === 'half-open' && !this.probing) {
        this.probing = true;
        return true;
      }
      // While open, each waiter also wakes by itself when the cool-down ends: a single
      // shared timer can fire a millisecond before the clock agrees, and then nobody
      // would look again.
      await this.changed(signal, this.current === 'open' ? remainingMs : undefined);
    }
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  failure(): void {
    this.failures += 1;
    const probeFailed = this.current === 'half-open' && this.probing;
    this.probing = false;
    if (probeFailed || (this.current === 'closed' && this.failures >= this.opts.failureThreshold)) this.open();
  }

  // Releases every waiter (they see the breaker as it is and wait again if need be).
  close(): void {
    this.wake();
  }

  private open(): void {
    this.openedAtMs = this.clock.now();
    this.transition('open');
  }

  private transition(next: BreakerState): void {
    this.current = next;
    this.emit('state', next);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private changed(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const clock = this.clock;
      const timer = timeoutMs === undefined ? undefined : clock.setTimeout(done, Math.max(1, timeoutMs + 1));
      function done(): void {
        if (timer) clock.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
