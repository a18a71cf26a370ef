// The order book's side of the ferry channel: sends orders and refunds across, resends
// everything open after a (re)connect and, as a resync, whatever has stayed open too
// long, and gives the records that come back to the order book's per-kind methods, as
// its part of the inner side's one map of channel handlers (runtime/channel/records.ts).
import type { ChannelConnection } from '../../channel/connection.js';
import type { ChannelHandlers, NotificationRecord, NotifyRefusedRecord, OutcomeRecord, RefundOutcomeRecord } from '../../channel/records.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import { FINAL, orderKey, type Order } from './order.js';
import { refundKey, type Refund } from './refunds.js';
import { KEYSPACE, idOf } from '../store/keyspace.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

// Orders and refunds still open this long after their last change are resent to the
// outer side, which then asks the payment server: covers a lost notification.
const RESYNC_AFTER_MS = 30_000;
const RESYNC_EVERY_MS = 10_000;

// What the records from the outer side are given to (the order book).
export interface RecordHandlers {
  onOutcome(record: OutcomeRecord): Promise<void>;
  onNotification(connection: ChannelConnection, record: NotificationRecord): Promise<void>;
  onRefundOutcome(record: RefundOutcomeRecord): Promise<void>;
  onRefused(record: NotifyRefusedRecord): Promise<void>;
}

export type PaymentHandlers = Pick<ChannelHandlers<'inner'>, 'order.ack' | 'outcome' | 'notification' | 'refund.outcome' | 'notify.refused'>;

export class OuterLink {
  private channel: ChannelConnection | null = null;
  private readonly resync: ClockTimer;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly clock: Clock = systemClock,
  ) {
    this.resync = clock.setInterval(() => void this.resendOpen(RESYNC_AFTER_MS), RESYNC_EVERY_MS);
    this.resync.unref();
  }

  close(): void {
    this.clock.clearInterval(this.resync);
  }

  // The outer side connected (again): everything open is resent; the idempotency keys
  // at the payment server make that safe.
  // Returns the handlers of the kinds that move orders and refunds on this connection.
  attach(connection: ChannelConnection, book: RecordHandlers): PaymentHandlers {
    this.channel?.close();
    this.channel = connection;
    connection.on('close', () => {
      if (this.channel === connection) this.channel = null;
    });
    this.log.info('outer side connected; resending open orders and refunds');
    void this.resendOpen(0);
    return {
      // An order.ack says the outer side has the order. It is not written down: it would
      // cost a durable transaction per payment and change nothing, since every open
      // order is resent after any restart whatever its state.
      'order.ack': (record) => this.log.debug({ orderId: record.orderId }, 'order acknowledged by the outer side'),
      outcome: (record) => book.onOutcome(record),
      notification: (record) => book.onNotification(connection, record),
      'refund.outcome': (record) => book.onRefundOutcome(record),
      'notify.refused': (record) => book.onRefused(record),
    };
  }

  get connected(): boolean {
    return this.channel?.isReady ?? false;
  }

  sendOrder(order: Order): void {
    if (FINAL.has(order.status) || !this.channel?.isReady) return;
    this.channel.send({
      k: 'order', orderId: order.orderId, amount: order.amount, currency: order.currency,
      method: order.method, description: order.description, ...(order.authCode ? { authCode: order.authCode } : {}),
    });
  }

  sendRefund(refund: Refund): void {
    if (refund.status !== 'requested' || !this.channel?.isReady) return;
    this.channel.send({ k: 'refund', refundId: refund.refundId, orderId: refund.orderId, amount: refund.amount, currency: refund.currency, reason: refund.reason });
  }


  // The journals are the truth of what is open: resent from them, never from memory.
  private async resendOpen(olderThanMs: number): Promise<void> {
    if (!this.channel?.isReady) return;
    const cutoff = this.now().getTime() - olderThanMs;
    try {
      let orders = 0;
      let refunds = 0;
      for (const [key] of await this.store.list(KEYSPACE.journal.prefix)) {
        const order = await this.store.get<Order>(orderKey(idOf('journal', key)));
        if (order && Date.parse(order.updatedAt) <= cutoff) {
          this.sendOrder(order);
          orders += 1;
        }
      }
      for (const [key] of await this.store.list(KEYSPACE.refundJournal.prefix)) {
        const refund = await this.store.get<Refund>(refundKey(idOf('refundJournal', key)));
        if (refund && Date.parse(refund.updatedAt) <= cutoff) {
          this.sendRefund(refund);
          refunds += 1;
        }
      }
      if (orders + refunds > 0) this.log.info({ orders, refunds }, 'open orders and refunds resent to the outer side');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'resending open orders failed');
    }
  }
}
