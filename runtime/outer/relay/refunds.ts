// Refunds asked for by the inner side (a cancelled paid registration, a payment that
// arrived after its slot was gone). The refund id is the idempotency key, so a POST
// may be repeated until the server answers: a refund is never made twice, and a doubt
// (timeout, broken connection, 5xx) is never turned into a failure. Like the order
// relay, nothing is kept on disk: the inner side resends open refunds.
import { backoffDelayMs, sleep } from '../../common/backoff.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { systemRandom, type Random } from '../../common/random.js';
import type { Logger } from '../../common/logger.js';
import type { ChannelRecord, RefundRecord } from '../../channel/records.js';
import type { CircuitBreaker } from './breaker.js';
import type { PaymentClient } from './payment-client.js';

// Refunds are rare (cancellations); this bounds memory through a long outage.
export const REFUNDS_IN_FLIGHT_MAX = 1_000;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;

export interface RefundRelayDeps {
  client: PaymentClient;
  breaker: CircuitBreaker;
  send: (record: ChannelRecord) => boolean;
  log: Logger;
  retryBaseMs?: number;
  clock?: Clock;
  random?: Random; // the retries' jitter
}

export class RefundRelay {
  private readonly inFlight = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  private readonly clock: Clock;
  private readonly random: Random;

  constructor(private readonly deps: RefundRelayDeps) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom();
  }

  onRefund(refund: RefundRecord): void {
    if (this.stopping.signal.aborted || this.inFlight.has(refund.refundId)) return;
    if (this.inFlight.size >= REFUNDS_IN_FLIGHT_MAX) {
      this.deps.log.warn({ refundId: refund.refundId }, 'too many refunds in flight; the inner side resends it');
      return;
    }
    this.inFlight.add(refund.refundId);
    const run = this.run(refund)
      .catch((err: unknown) => this.deps.log.error({ err, refundId: refund.refundId }, 'refund relay failed; the inner side resends it'))
      .finally(() => {
        this.inFlight.delete(refund.refundId);
        this.running.delete(run);
      });
    this.running.add(run);
  }

  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.running]);
  }

  private async run(refund: RefundRecord): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      if (!(await this.deps.breaker.admit(signal))) return;
      const result = await this.deps.client.createRefund(refund);
      if (signal.aborted) return;
      if (result.kind === 'answer') {
        this.deps.breaker.success();
        this.deps.send({
          k: 'refund.outcome', refundId: refund.refundId, orderId: refund.orderId, status: result.answer.status,
          amount: refund.amount, ...(result.answer.reason ? { reason: result.answer.reason } : {}),
        });
        return;
      }
      if (result.kind === 'replayed') {
        // The server is up; this attempt looked like a copy of an earlier one. Retry signed anew.
        this.deps.breaker.success();
        this.deps.log.warn({ refundId: refund.refundId }, 'payment server took the refund request for a replay; retrying with a fresh signature');
        await this.retryWait(attempt, signal);
        continue;
      }
      if (result.kind === 'refused' && result.status !== 401 && result.status !== 429) {
        // 409: this refund id was used for another refund; 400/404/422: the server will
        // never do it. Neither is a refund made: report it failed, for an operator.
        this.deps.breaker.success();
        this.deps.log.error({ refundId: refund.refundId, status: result.status, error: result.error }, 'payment server refused the refund');
        this.deps.send({ k: 'refund.outcome', refundId: refund.refundId, orderId: refund.orderId, status: 'failed', amount: refund.amount, reason: `refused: ${result.error}`.slice(0, 256) });
        return;
      }
      this.deps.breaker.failure();
      this.deps.log.warn({ refundId: refund.refundId, result: result.kind }, 'refund not confirmed; retrying with the same key');
      await this.retryWait(attempt, signal);
    }
  }

  private retryWait(attempt: number, signal: AbortSignal): Promise<void> {
    return sleep(backoffDelayMs(attempt, { baseMs: this.deps.retryBaseMs ?? RETRY_BASE_MS, maxMs: RETRY_MAX_MS, random: this.random }), signal, this.clock);
  }
}
