// The order book: orders opened by payment.request and moved through their guarded
// state machine (order.ts) by what comes back over the ferry channel, refunds likewise.
// Every change is one store transaction that also settles what the order paid for (its
// Payable) and writes what devices must be told to their outbox; what is left to do
// once it is durable is a list of effects (gap/handler.ts AfterCommit).
import type { ChannelConnection } from '../../channel/connection.js';
import type { NotificationRecord, NotifyRefusedRecord, OutcomeRecord, RefundOutcomeRecord } from '../../channel/records.js';
import type { Logger } from '../../common/logger.js';
import type { Store, Tx } from '../store/store.js';
import type { AfterCommit, Answer } from '../gap/handler.js';
import type { RunAfterCommit } from '../after-commit.js';
import { post, MAX_PENDING_PER_DEVICE } from '../outbox/records.js';
import type { OutboxCounts } from '../outbox/counts.js';
import { nextId } from '../ids.js';
import { FINAL, canMove, journalKey, moved, orderKey, ordersOfKey, type Order, type OrderStatus } from './order.js';
import { answerFor } from './answers.js';
import type { FirstAnswers } from './first-answers.js';
import type { OuterLink, RecordHandlers } from './link.js';
import type { Notice, Payable } from './payable.js';
import { conflictEvent, differences, notifyKey, refusalEvent, seenOf, type SeenNotification } from './notifications.js';
import { createRefund, refundKey, settleRefund, type Refund } from './refunds.js';

export interface OrderBookOptions {
  store: Store;
  log: Logger;
  link: OuterLink;
  answers: FirstAnswers;
  payables: readonly Payable[];
  afterCommit: RunAfterCommit;
  now?: () => Date;
  outboxCounts?: OutboxCounts; // spares a full outbox listing per message (outbox/counts.ts)
}

export interface NewOrder {
  device: string;
  requestId: string;
  pays: { billId: string } | { registrationId: string };
  patientId?: string; // whose bill or registration it pays: indexed, never stored on the order
  amount: number;
  method: 'code' | 'qr';
  authCode?: string;
  description: string;
}

export class OrderBook implements RecordHandlers {
  private readonly opts: OrderBookOptions;
  private readonly now: () => Date;

  constructor(opts: OrderBookOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => new Date());
  }

  get outerConnected(): boolean {
    return this.opts.link.connected;
  }

  async open(tx: Tx, o: NewOrder): Promise<Order> {
    const now = this.now();
    const order: Order = {
      orderId: await nextId(tx, 'P', now),
      device: o.device,
      requestId: o.requestId,
      ...o.pays,
      amount: o.amount,
      currency: 'CNY',
      method: o.method,
      ...(o.authCode ? { authCode: o.authCode } : {}),
      description: o.description,
      status: 'accepted',
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    tx.put(orderKey(order.orderId), order);
    tx.put(journalKey(order.orderId), order.createdAt);
    if (o.patientId !== undefined) tx.put(ordersOfKey(o.patientId, order.orderId), order.orderId);
    tx.audit({ kind: 'payment.accepted', orderId: order.orderId, ...o.pays, amount: order.amount, method: order.method, device: order.device });
    return order;
  }

  // The answer to the payment.request that opened the order (call before the order is
  // sent across): final, or pending with a QR code, or pending when the wait is over;
  // then the final result follows from the kiosk's outbox.
  async firstAnswer(order: Order): Promise<Answer> {
    return answerFor(await this.opts.answers.wait(order));
  }

  async order(orderId: string): Promise<Order> {
    const order = await this.opts.store.get<Order>(orderKey(orderId));
    if (!order) throw new Error(`order ${orderId} not found`);
    return order;
  }

  // Asks for a refund of (part of) a paid order, inside the caller's transaction; the
  // caller sends it across once the transaction is durable (an AfterCommit 'refund').
  async requestRefund(tx: Tx, o: { orderId: string; amount: number; reason: string; registrationId?: string }): Promise<Refund> {
    const refund = await createRefund(tx, o, this.now());
    const order = await tx.get<Order>(orderKey(o.orderId));
    await this.payableOf(order!)?.refunding(tx, refund, this.now());
    return refund;
  }

  async onOutcome(record: OutcomeRecord): Promise<void> {
    await this.apply(record.orderId, record.status, {
      ...(record.qrCode ? { qrCode: record.qrCode } : {}),
      ...(record.reason ? { reason: record.reason } : {}),
    }, 'relay', record.amount);
  }

  async onNotification(connection: ChannelConnection, record: NotificationRecord): Promise<void> {
    const verdict = await this.transact(record.orderId, async (tx) => {
      const seenKey = notifyKey(record.notifyId);
      const order = await tx.get<Order>(orderKey(record.orderId));
      const seen = await tx.get<SeenNotification>(seenKey);
      if (seen) {
        const accepted = seen.orderId === record.orderId ? order : await tx.get<Order>(orderKey(seen.orderId));
        const differ = differences(seen, record, accepted?.amount);
        if (differ.length === 0) return { accepted: true, seen: 'same' as const, effects: [] };
        tx.audit(conflictEvent(record, seen, differ));
        return { accepted: false, seen: 'different' as const, reason: `notification id already accepted with another ${differ.join(', ')}`, effects: [] };
      }
      let refusal: string | undefined;
      if (!order) refusal = 'unknown order';
      else if (record.amount !== order.amount) refusal = `amount ${record.amount} differs from the order's ${order.amount}`;
      else if (FINAL.has(order.status) && order.status !== record.status) refusal = `order is already ${order.status}`;
      if (refusal) {
        tx.audit({ kind: 'payment.notification.refused', notifyId: record.notifyId, orderId: record.orderId, reason: refusal });
        return { accepted: false, reason: refusal, effects: [] };
      }
      tx.put(seenKey, seenOf(record));
      const effects = FINAL.has(order!.status) ? [] : await this.move(tx, order!, record.status, {}, 'notification');
      return { accepted: true, effects };
    });
    connection.send({
      k: 'notification.ack', notifyId: record.notifyId, accepted: verdict.accepted,
      ...('reason' in verdict && verdict.reason ? { reason: verdict.reason } : {}),
      ...('seen' in verdict ? { seen: verdict.seen } : {}),
    });
    this.opts.afterCommit(verdict.effects);
  }

  // The outer side has no store: what its endpoint refused is kept in this audit chain.
  async onRefused(record: NotifyRefusedRecord): Promise<void> {
    await this.opts.store.audit(refusalEvent(record));
  }

  async onRefundOutcome(record: RefundOutcomeRecord): Promise<void> {
    if (record.status === 'unknown') return; // the outer side keeps asking
    const settled = await this.opts.store.transact(async (tx) => {
      const refund = await tx.get<Refund>(refundKey(record.refundId));
      if (!refund || refund.status !== 'requested') return null;
      if (refund.orderId !== record.orderId || refund.amount !== record.amount) {
        tx.audit({ kind: 'refund.outcome_mismatch', refundId: record.refundId, orderId: record.orderId, amount: record.amount });
        return null;
      }
      const ok = record.status === 'succeeded';
      settleRefund(tx, refund, ok, this.now());
      const order = await tx.get<Order>(orderKey(refund.orderId));
      const notice = order ? await this.payableOf(order)?.refunded(tx, refund, ok, record.reason, this.now()) : null;
      const effects: AfterCommit[] = [];
      if (notice) await this.tell(tx, notice, effects);
      return { refund, ok, effects };
    });
    if (!settled) return;
    if (!settled.ok) {
      // The patient's money is still with the hospital: an operator must act. Ids only.
      const { refund } = settled;
      this.opts.log.error({
        alert: 'refund.declined', refundId: refund.refundId, orderId: refund.orderId,
        ...(refund.registrationId ? { registrationId: refund.registrationId } : {}), ...(record.reason ? { reason: record.reason } : {}),
      }, `ALERT: the payment server declined a refund; retry it with: ferry refunds retry ${refund.registrationId ?? refund.refundId}`);
    }
    this.opts.afterCommit(settled.effects);
  }

  private async apply(orderId: string, to: OrderStatus, change: Partial<Order>, source: string, amount?: number): Promise<void> {
    const effects = await this.transact(orderId, async (tx) => {
      const order = await tx.get<Order>(orderKey(orderId));
      if (!order) {
        tx.audit({ kind: 'payment.outcome.unknown_order', orderId, status: to, source });
        return [];
      }
      if (amount !== undefined && amount !== order.amount) {
        tx.audit({ kind: 'payment.outcome.amount_mismatch', orderId, status: to, amount, expected: order.amount, source });
        return [];
      }
      if (order.status === to && !change.qrCode) return [];
      if (!canMove(order.status, to)) {
        if (FINAL.has(order.status) && FINAL.has(to)) {
          tx.audit({ kind: 'payment.outcome.contradiction', orderId, status: order.status, claimed: to, source });
        }
        return [];
      }
      return this.move(tx, order, to, change, source);
    });
    this.opts.afterCommit(effects);
  }

  // A transaction that may take the order's waiting first answer: if it fails, the
  // wait is let go again.
  private async transact<R>(orderId: string, fn: (tx: Tx) => Promise<R>): Promise<R> {
    try {
      return await this.opts.store.transact(fn);
    } catch (err) {
      this.opts.answers.release(orderId);
      throw err;
    }
  }

  private async move(tx: Tx, order: Order, to: OrderStatus, change: Partial<Order>, source: string): Promise<AfterCommit[]> {
    const now = this.now();
    const next = moved(order, to, { ...(change.qrCode ? { qrCode: change.qrCode } : {}), ...(change.reason ? { reason: change.reason } : {}) }, now);
    tx.put(orderKey(order.orderId), next);
    tx.audit({ kind: 'payment.state', orderId: order.orderId, method: order.method, from: order.status, to, source });
    const effects: AfterCommit[] = [];
    if (this.opts.answers.take(next)) effects.push({ kind: 'answer', order: next });
    else if (FINAL.has(to)) await this.tell(tx, { device: order.device, re: order.requestId, ...answerFor(next) }, effects);
    if (!FINAL.has(to)) return effects;
    tx.del(journalKey(order.orderId));
    const payable = this.payableOf(next);
    if (!payable) return effects;
    const settled = await payable.settle(tx, next, now);
    for (const pool of settled.pools) effects.push({ kind: 'slots', pool });
    for (const notice of settled.notices) await this.tell(tx, notice, effects);
    if (settled.refund) {
      // The money came but what it paid for is gone: never keep it silently.
      const refund = await this.requestRefund(tx, { orderId: order.orderId, ...(order.registrationId ? { registrationId: order.registrationId } : {}), ...settled.refund });
      effects.push({ kind: 'refund', refund });
      await this.tell(tx, { device: order.device, type: 'registration.refunding', body: { registrationId: order.registrationId, refundId: refund.refundId, amount: refund.amount, reason: refund.reason } }, effects);
    }
    return effects;
  }

  // An unsolicited message, into the device's outbox in this transaction.
  private async tell(tx: Tx, notice: Notice & { re?: string }, effects: AfterCommit[]): Promise<void> {
    const { entry, dropped } = await post(tx, notice.device, notice, this.now(), MAX_PENDING_PER_DEVICE, this.opts.outboxCounts);
    if (dropped) {
      this.opts.log.error({ alert: 'outbox.dropped', device: notice.device, messageId: dropped.messageId, type: dropped.type },
        'ALERT: a device has too many undelivered messages; the oldest was dropped (audited)');
    }
    effects.push({ kind: 'outbox', device: notice.device, messageId: entry.messageId });
  }

  private payableOf(order: Order): Payable | undefined {
    return this.opts.payables.find((p) => p.pays(order));
  }
}
