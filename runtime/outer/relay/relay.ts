// The relay: each `order` record from the inner side becomes one payment at the payment
// server, and its outcome goes back as an `outcome` record.
//
// Invariant 2 (no payment twice) rests on the idempotency key (= order id): every
// resend, retry and re-POST after a 404 carries it. Invariant 1 (no payment lost) rests
// on never turning doubt into failure: a timeout or a broken connection is `unknown`,
// resolved by asking the server, and only the server's own word ends an order. This
// process keeps nothing on disk; the inner side's journal resends whatever is open.
import { backoffDelayMs, sleep } from '../../common/backoff.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { systemRandom, type Random } from '../../common/random.js';
import { assert } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { canonicalJson } from '../../common/canonical-json.js';
import type { ChannelRecord, OrderRecord, OutcomeRecord } from '../../channel/records.js';
import type { CircuitBreaker } from './breaker.js';
import type { CallResult, PaymentAnswer, PaymentClient } from './payment-client.js';

// Orders handled at once. Beyond this an order is not acknowledged and the inner side
// resends it later: memory stays bounded through a long payment-server outage.
export const ORDERS_IN_FLIGHT_MAX = 1_000;
// Orders whose amount is remembered for checking notifications (a day of a large
// hospital's scan-to-pay orders).
export const SEEN_ORDERS_MAX = 20_000;

export interface RelayTuning {
  retryBaseMs: number; // first retry after a failure (backoff with full jitter)
  retryMaxMs: number; // cap of the retry delay
  pendingPollBaseMs: number; // a pending scan-to-pay is also polled, in case its notification is lost
  pendingPollMaxMs: number;
  pendingWatchMs: number; // after this, stop polling: a QR code has long expired
}

export const RELAY_TUNING_DEFAULT: Readonly<RelayTuning> = Object.freeze({
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  pendingPollBaseMs: 5_000,
  pendingPollMaxMs: 60_000,
  pendingWatchMs: 15 * 60_000,
});

export interface RelayDeps {
  client: PaymentClient;
  breaker: CircuitBreaker;
  send: (record: ChannelRecord) => boolean; // false while the inner side is not connected
  log: Logger;
  tuning?: Partial<RelayTuning>;
  clock?: Clock; // retry waits and how long an order has been pending
  random?: Random; // the retries' jitter
}

interface InFlight {
  order: OrderRecord;
  lastOutcome: OutcomeRecord | undefined;
  pendingSinceMs: number | undefined;
  // Aborted when a notification has ended the order, and by close(): the one signal
  // its calls, breaker waits and retry sleeps heed.
  settled: AbortController;
}

type Mode = 'post' | 'get';
type Step = { done: true } | { done: false; mode: Mode; delayMs: number };

export class Relay {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly seen = new Map<string, number>(); // orderId -> amount, oldest first
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly tuning: RelayTuning;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(private readonly deps: RelayDeps) {
    this.tuning = { ...RELAY_TUNING_DEFAULT, ...deps.tuning };
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom();
    assert(this.tuning.retryBaseMs > 0 && this.tuning.retryMaxMs >= this.tuning.retryBaseMs, 'retry delays are ordered');
  }

  onOrder(order: OrderRecord): void {
    if (this.stopping.signal.aborted) return;
    const existing = this.inFlight.get(order.orderId);
    if (existing) return this.onResend(existing, order);
    if (this.inFlight.size >= ORDERS_IN_FLIGHT_MAX) {
      this.deps.log.warn({ orderId: order.orderId, max: ORDERS_IN_FLIGHT_MAX }, 'too many orders in flight; not acknowledged, the inner side resends');
      return;
    }
    this.remember(order);
    const entry: InFlight = { order, lastOutcome: undefined, pendingSinceMs: undefined, settled: new AbortController() };
    this.inFlight.set(order.orderId, entry);
    this.deps.send({ k: 'order.ack', orderId: order.orderId });
    const run = this.run(entry)
      .catch((err: unknown) => this.deps.log.error({ err, orderId: order.orderId }, 'relay failed on an order; the inner side resends it'))
      .finally(() => {
        this.inFlight.delete(order.orderId);
        this.running.delete(run);
      });
    this.running.add(run);
  }

  // The amount of an order this process has seen, for checking a notification.
  amountOf(orderId: string): number | undefined {
    return this.seen.get(orderId);
  }

  // A notification for this order was accepted by the inner side: stop watching it.
  settled(orderId: string): void {
    this.inFlight.get(orderId)?.settled.abort();
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  async close(): Promise<void> {
    this.stopping.abort();
    for (const entry of this.inFlight.values()) entry.settled.abort();
    await Promise.allSettled([...this.running]);
  }

  // The inner side resends what it has no final outcome for (after a reconnect, say).
  // The payment is already under way: acknowledge it and repeat the last outcome sent,
  // which may have been lost with the old connection.
  private onResend(entry: InFlight, order: OrderRecord): void {
    // Compared only here, on a resend (rare), not computed for every order.
    if (canonicalJson(order) !== canonicalJson(entry.order)) {
      this.deps.log.error({ orderId: order.orderId }, 'order id resent with another content; ignored');
      return;
    }
    this.deps.send({ k: 'order.ack', orderId: order.orderId });
    if (entry.lastOutcome) this.deps.send(entry.lastOutcome);
  }

  private async run(entry: InFlight): Promise<void> {
    const signal = entry.settled.signal;
    let mode: Mode = 'post';
    let attempt = 0;
    while (!signal.aborted) {
      if (!(await this.deps.breaker.admit(signal))) return;
      const result = mode === 'post' ? await this.deps.client.createPayment(entry.order) : await this.deps.client.queryPayment(entry.order);
      if (this.stopping.signal.aborted) return; // closing aborts calls: their "unknown" says nothing
      const step = this.decide(entry, mode, result, attempt);
      if (step.done) return;
      attempt = result.kind === 'answer' || result.kind === 'not_found' ? 0 : attempt + 1;
      mode = step.mode;
      if (step.delayMs > 0) await sleep(step.delayMs, signal, this.clock);
    }
  }

  // One call's result decides the next step; the breaker hears about every call.
  private decide(entry: InFlight, mode: Mode, result: CallResult, attempt: number): Step {
    const { orderId } = entry.order;
    const retry = backoffDelayMs(attempt, { baseMs: this.tuning.retryBaseMs, maxMs: this.tuning.retryMaxMs, random: this.random });
    switch (result.kind) {
      case 'answer':
        this.deps.breaker.success();
        return this.onAnswer(entry, result.answer, attempt);
      case 'not_found':
        // The POST never arrived: sending it again with the same key is safe.
        this.deps.breaker.success();
        return { done: false, mode: 'post', delayMs: 0 };
      case 'unknown':
        this.deps.breaker.failure();
        this.deps.log.warn({ orderId, mode, reason: result.reason }, 'payment outcome unknown; asking the payment server');
        this.sendUnknown(entry, result.reason);
        return { done: false, mode: 'get', delayMs: retry };
      case 'server_error':
        this.deps.breaker.failure();
        this.deps.log.warn({ orderId, mode, status: result.status }, 'payment server error; retrying');
        return { done: false, mode, delayMs: retry };
      case 'invalid':
        this.deps.breaker.failure();
        this.deps.log.error({ orderId, mode, reason: result.reason }, 'payment server answer does not match the order; asking again');
        this.sendUnknown(entry, 'invalid answer');
        return { done: false, mode: 'get', delayMs: retry };
      case 'replayed':
        // The server is up and checking signatures: not a failure of the server, and
        // not an authentication failure. A new attempt carries a new nonce.
        this.deps.breaker.success();
        this.deps.log.warn({ orderId, mode }, 'payment server took the request for a replay; retrying with a fresh signature');
        return { done: false, mode, delayMs: retry };
      case 'refused':
        return this.onRefused(entry, mode, result.status, result.error, retry);
    }
  }

  private onAnswer(entry: InFlight, answer: PaymentAnswer, attempt: number): Step {
    if (answer.status !== 'pending') {
      this.sendOutcome(entry, outcomeOf(answer));
      return { done: true };
    }
    const now = this.clock.now();
    if (entry.pendingSinceMs === undefined) {
      entry.pendingSinceMs = now;
      this.sendOutcome(entry, outcomeOf(answer));
    }
    if (now - entry.pendingSinceMs >= this.tuning.pendingWatchMs) {
      this.deps.log.warn({ orderId: entry.order.orderId }, 'order still pending; no longer watched (the inner side resends it)');
      return { done: true };
    }
    const delayMs = this.tuning.pendingPollBaseMs + backoffDelayMs(attempt, { baseMs: this.tuning.pendingPollBaseMs, maxMs: this.tuning.pendingPollMaxMs, random: this.random });
    return { done: false, mode: 'get', delayMs };
  }

  private onRefused(entry: InFlight, mode: Mode, status: number, error: string, retry: number): Step {
    const { orderId } = entry.order;
    if (status === 409) {
      // Another payment exists under this key: nothing here can tell which is right.
      this.deps.log.error({ orderId, error }, 'payment server reports an idempotency conflict; left to reconciliation');
      this.sendUnknown(entry, 'idempotency conflict');
      return { done: true };
    }
    if (mode === 'post' && (status === 400 || status === 422)) {
      // The server refused the request as malformed: it charged nothing.
      this.sendOutcome(entry, { k: 'outcome', orderId, status: 'failed', amount: entry.order.amount, reason: `refused: ${error}` });
      return { done: true };
    }
    // 401 (clock or secret), 429, or a 4xx on a query: the server did not decide; retry.
    this.deps.breaker.failure();
    this.deps.log.error({ orderId, mode, status, error }, 'payment server refused the request; retrying');
    return { done: false, mode, delayMs: retry };
  }

  private sendUnknown(entry: InFlight, reason: string): void {
    if (entry.lastOutcome?.status === 'unknown') return;
    if (entry.lastOutcome?.status === 'pending') return; // pending already says "not final"
    this.sendOutcome(entry, { k: 'outcome', orderId: entry.order.orderId, status: 'unknown', reason });
  }

  private sendOutcome(entry: InFlight, outcome: OutcomeRecord): void {
    assert(outcome.orderId === entry.order.orderId, 'outcome is for this order');
    assert(outcome.amount === undefined || outcome.amount === entry.order.amount, 'outcome amount is the order amount');
    entry.lastOutcome = outcome;
    if (!this.deps.send(outcome)) this.deps.log.warn({ orderId: outcome.orderId, status: outcome.status }, 'inner side not connected; outcome will be resent when the order is');
  }

  private remember(order: OrderRecord): void {
    this.seen.delete(order.orderId);
    this.seen.set(order.orderId, order.amount);
    if (this.seen.size > SEEN_ORDERS_MAX) this.seen.delete(this.seen.keys().next().value!);
  }
}

function outcomeOf(answer: PaymentAnswer): OutcomeRecord {
  const outcome: OutcomeRecord = { k: 'outcome', orderId: answer.orderId, status: answer.status, amount: answer.amount };
  if (answer.qrCode !== undefined) outcome.qrCode = answer.qrCode;
  if (answer.reason !== undefined) outcome.reason = answer.reason;
  return outcome;
}
