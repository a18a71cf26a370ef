// Hands a notification to the inner side and waits for its verdict. The payment server
// gets its answer only after the inner side has journaled (or refused) the result, so a
// 200 always means "recorded" and anything short of that makes the server retry.
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';
import { assert } from '../../common/errors.js';
import type { ChannelRecord, NotificationAckRecord, NotificationRecord } from '../../channel/records.js';

// How long a notification waits for the inner side's ack before the payment server is
// told to retry (503). Well under the payment server's own request timeout.
export const NOTIFY_ACK_WAIT_MS = 5_000;
// Notifications awaiting an ack at once; more are answered 503 and retried later.
export const NOTIFY_WAITING_MAX = 1_000;

export type Verdict =
  | { kind: 'accepted' }
  | { kind: 'duplicate' } // accepted before with the same content
  | { kind: 'conflict'; reason: string } // accepted before with different content
  | { kind: 'refused'; reason: string }
  | { kind: 'unavailable' };

export class NotificationForwarder {
  private readonly waiting = new Map<string, { resolve: (v: Verdict) => void; timer: ClockTimer }>();

  constructor(
    private readonly send: (record: ChannelRecord) => boolean,
    private readonly waitMs: number = NOTIFY_ACK_WAIT_MS,
    private readonly clock: Clock = systemClock,
  ) {
    assert(waitMs > 0, 'ack wait is positive');
  }

  forward(record: NotificationRecord): Promise<Verdict> {
    if (this.waiting.has(record.notifyId) || this.waiting.size >= NOTIFY_WAITING_MAX) return Promise.resolve({ kind: 'unavailable' });
    if (!this.send(record)) return Promise.resolve({ kind: 'unavailable' });
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => this.settle(record.notifyId, { kind: 'unavailable' }), this.waitMs);
      timer.unref();
      this.waiting.set(record.notifyId, { resolve, timer });
    });
  }

  onAck(ack: NotificationAckRecord): void {
    this.settle(ack.notifyId, verdictOf(ack));
  }

  // The inner side went away: nothing waiting will be acked on that connection.
  dropAll(): void {
    for (const notifyId of [...this.waiting.keys()]) this.settle(notifyId, { kind: 'unavailable' });
  }

  private settle(notifyId: string, verdict: Verdict): void {
    const waiter = this.waiting.get(notifyId);
    if (!waiter) return;
    this.waiting.delete(notifyId);
    this.clock.clearTimeout(waiter.timer);
    waiter.resolve(verdict);
  }
}

function verdictOf(ack: NotificationAckRecord): Verdict {
  const reason = ack.reason ?? 'refused';
  if (ack.accepted) return ack.seen === 'same' ? { kind: 'duplicate' } : { kind: 'accepted' };
  return ack.seen === 'different' ? { kind: 'conflict', reason } : { kind: 'refused', reason };
}
