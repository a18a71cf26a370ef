// The one place that decides how a kiosk learns of its payment. A payment.request waits
// here, up to the gateway's reply wait, for its order to become answerable. The
// transaction that makes it answerable asks `take`: if the request still waits, it is
// answered directly with the order as committed, and nothing goes to the outbox; if
// not (the wait is over, the process restarted), the transaction writes the final
// result to the kiosk's outbox instead. `take` and the wait's timer are synchronous
// against each other, so exactly one of the two ever carries the result.
import { answerable } from './answers.js';
import type { Order } from './order.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

interface Waiting {
  order: Order; // what the request is answered with if nothing takes it
  taken: boolean; // a transaction will answer it (give) or let go (release)
  expired: boolean; // the wait ended while taken
  resolve(order: Order): void;
  timer: ClockTimer;
}

export class FirstAnswers {
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly waitMs: number, private readonly clock: Clock = systemClock) {}

  // Called once the order is durable, before it is sent across. Resolves with the order
  // to answer with: answerable, or as it was when the wait ended (`pending`).
  wait(order: Order): Promise<Order> {
    if (answerable(order)) return Promise.resolve(order);
    this.waiting.get(order.orderId)?.resolve(order); // not expected: one request opens an order
    return new Promise<Order>((resolve) => {
      const w: Waiting = {
        order, taken: false, expired: false,
        resolve: (o) => {
          this.clock.clearTimeout(w.timer);
          if (this.waiting.get(order.orderId) === w) this.waiting.delete(order.orderId);
          resolve(o);
        },
        timer: this.clock.setTimeout(() => {
          if (w.taken) w.expired = true;
          else w.resolve(w.order);
        }, this.waitMs),
      };
      this.waiting.set(order.orderId, w);
    });
  }

  // Inside the transaction that moves the order to `next`: true when the waiting
  // request will carry `next` (the caller then runs give(next) after the commit).
  take(next: Order): boolean {
    const w = this.waiting.get(next.orderId);
    if (!w || w.taken || !answerable(next)) return false;
    w.taken = true;
    return true;
  }

  // After the commit of a transaction that took the order.
  give(order: Order): void {
    const w = this.waiting.get(order.orderId);
    if (w?.taken) w.resolve(order);
  }

  // The transaction that took it failed: the wait goes on, or ends now if it is over.
  release(orderId: string): void {
    const w = this.waiting.get(orderId);
    if (!w?.taken) return;
    w.taken = false;
    if (w.expired) w.resolve(w.order);
  }

  waitingFor(orderId: string): boolean {
    return this.waiting.has(orderId);
  }

  // Shutting down: every waiting request is answered with what it has.
  close(): void {
    for (const w of [...this.waiting.values()]) w.resolve(w.order);
  }
}
