// Orders across the gap: opened by payment.request, sent to the outer side over the
// ferry channel, moved by the outcomes and notifications that come back, and resent
// until final; refunds likewise. Every change is a store transaction; devices are
// told only after it is durable.
import type { ChannelConnection } from '../../channel/connection.js';
import type { ChannelHandlers, NotificationRecord, NotifyRefusedRecord, OutcomeRecord, RefundOutcomeRecord } from '../../channel/records.js';
import type { Logger } from '../../common/logger.js';
import type { PaymentResultBody, BillPaidBody } from '../../../devices/protocol.js';
import type { Store, Tx } from '../store/store.js';
import type { Answer } from '../gap/handler.js';
import { billKey, setBillStatus, type Bill } from '../billing/bills.js';
import { regKey, type Notice, type Registration, type Registrations } from '../registration/registrations.js';
import type { SlotPool } from '../registration/pools.js';
import { nextId } from '../ids.js';
import { FINAL, canMove, journalKey, kioskStatus, moved, orderKey, type Order, type OrderStatus } from './order.js';
import { conflictEvent, differences, notifyKey, refusalEvent, seenOf, type SeenNotification } from './notifications.js';
import { createRefund, refundJournalKey, refundKey, reopenRefund, RefundRetryRefused, settleRefund, type Refund } from './refunds.js';

// Orders and refunds still open this long after their last change are resent to the
// outer side, which then asks the payment server: covers a lost notification.
const RESYNC_AFTER_MS = 30_000;
const RESYNC_EVERY_MS = 10_000;

export type PaymentHandlers = Pick<ChannelHandlers<'inner'>, 'order.ack' | 'outcome' | 'notification' | 'refund.outcome' | 'notify.refused'>;

export interface PaymentsOptions {
  store: Store;
  log: Logger;
  replyWaitMs: number;
  registrations: Registrations;
  // Sends an unsolicited message to a device's down topic.
  send(deviceId: string, re: string | undefined, answer: Answer): Promise<void>;
  // A slot pool changed: its retained snapshot is to be published again.
  poolChanged(pool: SlotPool): void;
  now?: () => Date;
}

export interface NewOrder {
  device: string;
  requestId: string;
  pays: { billId: string } | { registrationId: string };
  amount: number;
  method: 'code' | 'qr';
  authCode?: string;
  description: string;
}

// What a transaction decided that must be said or sent once it is durable.
interface Effects {
  notices: Notice[];
  pools: SlotPool[];
  refunds: Refund[];
}

const noEffects = (): Effects => ({ notices: [], pools: [], refunds: [] });

export class Payments {
  private readonly opts: PaymentsOptions;
  private readonly now: () => Date;
  private channel: ChannelConnection | null = null;
  // Orders whose first answer is still being waited for, with the wake-up of each waiter.
  private readonly waiters = new Map<string, () => void>();
  private readonly resync: NodeJS.Timeout;

  constructor(opts: PaymentsOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => new Date());
    this.resync = setInterval(() => void this.resendOpen(RESYNC_AFTER_MS), RESYNC_EVERY_MS);
    this.resync.unref();
  }

  close(): void {
    clearInterval(this.resync);
    for (const wake of this.waiters.values()) wake();
  }

  // The outer side connected (again): everything open is resent; the idempotency keys
  // at the payment server make that safe.
  attach(connection: ChannelConnection): void {
    this.channel?.close();
    this.channel = connection;
    connection.on('close', () => {
      if (this.channel === connection) this.channel = null;
    });
    this.opts.log.info('outer side connected; resending open orders and refunds');
    void this.resendOpen(0);
  }

  get outerConnected(): boolean {
    return this.channel?.isReady ?? false;
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
    tx.audit({ kind: 'payment.accepted', orderId: order.orderId, ...o.pays, amount: order.amount, method: order.method, device: order.device });
    return order;
  }

  // After the order is durable: send it across, and answer with its state once it is
  // final, once a QR code is there to show, or when the wait is over (then `pending`,
  // and the final result follows on the down topic when it comes).
  async firstAnswer(order: Order): Promise<Answer> {
    const { orderId } = order;
    let latest = order;
    const done = new Promise<void>((resolve) => this.waiters.set(orderId, resolve));
    const timer = setTimeout(() => this.waiters.get(orderId)?.(), this.opts.replyWaitMs);
    try {
      this.sendOrder(order);
      if (!this.answerable(order)) {
        await done;
        latest = await this.order(orderId); // moved on, or the wait is over
      }
    } finally {
      clearTimeout(timer);
      this.waiters.delete(orderId);
    }
    return this.answerFor(latest);
  }

  answerFor(order: Order): Answer {
    const body: PaymentResultBody = {
      orderId: order.orderId,
      ...(order.billId ? { billId: order.billId } : {}),
      ...(order.registrationId ? { registrationId: order.registrationId } : {}),
      amount: order.amount, currency: order.currency,
      status: kioskStatus(order.status),
      ...(order.qrCode && !FINAL.has(order.status) ? { qrCode: order.qrCode } : {}),
      ...(order.reason ? { reason: order.reason } : {}),
    };
    return { type: 'payment.result', body };
  }

  async order(orderId: string): Promise<Order> {
    const order = await this.opts.store.get<Order>(orderKey(orderId));
    if (!order) throw new Error(`order ${orderId} not found`);
    return order;
  }

  // Asks for a refund of (part of) a paid order, inside the caller's transaction; it is
  // sent across once the transaction is durable (call sendRefund then).
  async requestRefund(tx: Tx, o: { orderId: string; amount: number; reason: string; registrationId?: string }): Promise<Refund> {
    const refund = await createRefund(tx, o, this.now());
    if (o.registrationId) await this.opts.registrations.refunding(tx, o.registrationId, refund.refundId, this.now());
    return refund;
  }

  // An operator's retry of a declined refund (`ferry refunds retry ID`, by registration
  // or refund id): the registration goes back to refunding and the same refund, under
  // the same id, is sent to the payment server again. Only a refund_failed registration.
  async retryRefund(id: string): Promise<{ registrationId: string; refundId: string; status: 'refunding' }> {
    const refund = await this.opts.store.transact(async (tx) => {
      let registrationId = id;
      if (id.startsWith('F')) {
        const named = await tx.get<Refund>(refundKey(id));
        if (!named) throw new RefundRetryRefused('REFUND_NOT_FOUND', `no refund ${id}`);
        if (!named.registrationId) throw new RefundRetryRefused('NOT_REFUND_FAILED', `refund ${id} is not a registration's`);
        registrationId = named.registrationId;
      }
      const reg = await tx.get<Registration>(regKey(registrationId));
      if (!reg) throw new RefundRetryRefused('REFUND_NOT_FOUND', `no registration ${registrationId}`);
      if (reg.status !== 'refund_failed' || !reg.refundId) {
        throw new RefundRetryRefused('NOT_REFUND_FAILED', `registration ${registrationId} is ${reg.status}, not refund_failed: there is no declined refund to retry`);
      }
      const failed = await tx.get<Refund>(refundKey(reg.refundId));
      if (!failed || failed.status !== 'failed') {
        throw new RefundRetryRefused('NOT_REFUND_FAILED', `refund ${reg.refundId} of ${registrationId} is ${failed?.status ?? 'missing'}, not failed`);
      }
      const reopened = await reopenRefund(tx, failed, this.now());
      await this.opts.registrations.refunding(tx, registrationId, reopened.refundId, this.now());
      tx.audit({ kind: 'refund.retried', refundId: reopened.refundId, registrationId, orderId: reopened.orderId, amount: reopened.amount, by: 'management' });
      return reopened;
    });
    this.opts.log.info({ refundId: refund.refundId, registrationId: refund.registrationId }, 'declined refund retried by an operator');
    this.sendRefund(refund);
    return { registrationId: refund.registrationId!, refundId: refund.refundId, status: 'refunding' };
  }

  sendRefund(refund: Refund): void {
    if (refund.status !== 'requested' || !this.channel?.isReady) return;
    this.channel.send({ k: 'refund', refundId: refund.refundId, orderId: refund.orderId, amount: refund.amount, currency: refund.currency, reason: refund.reason });
  }

  private answerable(order: Order): boolean {
    return FINAL.has(order.status) || (order.method === 'qr' && order.qrCode !== undefined);
  }

  private sendOrder(order: Order): void {
    if (FINAL.has(order.status) || !this.channel?.isReady) return;
    this.channel.send({
      k: 'order', orderId: order.orderId, amount: order.amount, currency: order.currency,
      method: order.method, description: order.description, ...(order.authCode ? { authCode: order.authCode } : {}),
    });
  }

  private async resendOpen(olderThanMs: number): Promise<void> {
    if (!this.channel?.isReady) return;
    const cutoff = this.now().getTime() - olderThanMs;
    try {
      let orders = 0;
      let refunds = 0;
      for (const [key] of await this.opts.store.list('journal!')) {
        const order = await this.opts.store.get<Order>(orderKey(key.slice('journal!'.length)));
        if (order && Date.parse(order.updatedAt) <= cutoff) {
          this.sendOrder(order);
          orders += 1;
        }
      }
      for (const [key] of await this.opts.store.list('refundJournal!')) {
        const refund = await this.opts.store.get<Refund>(refundKey(key.slice('refundJournal!'.length)));
        if (refund && Date.parse(refund.updatedAt) <= cutoff) {
          this.sendRefund(refund);
          refunds += 1;
        }
      }
      if (orders + refunds > 0) this.opts.log.info({ orders, refunds }, 'open orders and refunds resent to the outer side');
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'resending open orders failed');
    }
  }

  // The handlers of the channel kinds that move orders and refunds, for the inner side's
  // one map of channel handlers (runtime/channel/records.ts).
  channelHandlers(connection: ChannelConnection): PaymentHandlers {
    return {
      // An order.ack says the outer side has the order. It is not written down: it would
      // cost a durable transaction per payment and change nothing, since every open
      // order is resent after any restart whatever its state.
      'order.ack': (record) => this.opts.log.debug({ orderId: record.orderId }, 'order acknowledged by the outer side'),
      outcome: (record) => this.onOutcome(record),
      notification: (record) => this.onNotification(connection, record),
      'refund.outcome': (record) => this.onRefundOutcome(record),
      'notify.refused': (record) => this.onRefused(record),
    };
  }

  private async onOutcome(record: OutcomeRecord): Promise<void> {
    await this.apply(record.orderId, record.status, {
      ...(record.qrCode ? { qrCode: record.qrCode } : {}),
      ...(record.reason ? { reason: record.reason } : {}),
    }, 'relay', record.amount);
  }

  private async onNotification(connection: ChannelConnection, record: NotificationRecord): Promise<void> {
    const verdict = await this.opts.store.transact(async (tx) => {
      const seenKey = notifyKey(record.notifyId);
      const order = await tx.get<Order>(orderKey(record.orderId));
      const seen = await tx.get<SeenNotification>(seenKey);
      if (seen) {
        const accepted = seen.orderId === record.orderId ? order : await tx.get<Order>(orderKey(seen.orderId));
        const differ = differences(seen, record, accepted?.amount);
        if (differ.length === 0) return { accepted: true, seen: 'same' as const };
        tx.audit(conflictEvent(record, seen, differ));
        return { accepted: false, seen: 'different' as const, reason: `notification id already accepted with another ${differ.join(', ')}` };
      }
      let refusal: string | undefined;
      if (!order) refusal = 'unknown order';
      else if (record.amount !== order.amount) refusal = `amount ${record.amount} differs from the order's ${order.amount}`;
      else if (FINAL.has(order.status) && order.status !== record.status) refusal = `order is already ${order.status}`;
      if (refusal) {
        tx.audit({ kind: 'payment.notification.refused', notifyId: record.notifyId, orderId: record.orderId, reason: refusal });
        return { accepted: false, reason: refusal };
      }
      tx.put(seenKey, seenOf(record));
      const changed = FINAL.has(order!.status) ? null : await this.move(tx, order!, record.status, {}, 'notification');
      return { accepted: true, changed };
    });
    connection.send({
      k: 'notification.ack', notifyId: record.notifyId, accepted: verdict.accepted,
      ...('reason' in verdict && verdict.reason ? { reason: verdict.reason } : {}),
      ...('seen' in verdict ? { seen: verdict.seen } : {}),
    });
    if ('changed' in verdict && verdict.changed) await this.announce(verdict.changed.order, verdict.changed.effects);
  }

  // The outer side has no store: what its endpoint refused is kept in this audit chain.
  private async onRefused(record: NotifyRefusedRecord): Promise<void> {
    await this.opts.store.audit(refusalEvent(record));
  }

  private async onRefundOutcome(record: RefundOutcomeRecord): Promise<void> {
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
      const notice = refund.registrationId
        ? await this.opts.registrations.refunded(tx, refund.registrationId, refund.refundId, ok, refund.amount, record.reason, this.now())
        : null;
      return { refund, ok, notice };
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
    if (settled.notice) await this.opts.send(settled.notice.device, undefined, { type: settled.notice.type, body: settled.notice.body });
  }

  private async apply(orderId: string, to: OrderStatus, change: Partial<Order>, source: string, amount?: number): Promise<void> {
    const changed = await this.opts.store.transact(async (tx) => {
      const order = await tx.get<Order>(orderKey(orderId));
      if (!order) {
        tx.audit({ kind: 'payment.outcome.unknown_order', orderId, status: to, source });
        return null;
      }
      if (amount !== undefined && amount !== order.amount) {
        tx.audit({ kind: 'payment.outcome.amount_mismatch', orderId, status: to, amount, expected: order.amount, source });
        return null;
      }
      if (order.status === to && !change.qrCode) return null;
      if (!canMove(order.status, to)) {
        if (FINAL.has(order.status) && FINAL.has(to)) {
          tx.audit({ kind: 'payment.outcome.contradiction', orderId, status: order.status, claimed: to, source });
        }
        return null;
      }
      return this.move(tx, order, to, change, source);
    });
    if (changed) await this.announce(changed.order, changed.effects);
  }

  private async move(tx: Tx, order: Order, to: OrderStatus, change: Partial<Order>, source: string): Promise<{ order: Order; effects: Effects }> {
    const now = this.now();
    const next = moved(order, to, { ...(change.qrCode ? { qrCode: change.qrCode } : {}), ...(change.reason ? { reason: change.reason } : {}) }, now);
    tx.put(orderKey(order.orderId), next);
    tx.audit({ kind: 'payment.state', orderId: order.orderId, from: order.status, to, source });
    const effects = noEffects();
    if (FINAL.has(to)) {
      tx.del(journalKey(order.orderId));
      if (order.billId) {
        const notice = await this.settleBill(tx, next, now);
        if (notice) effects.notices.push(notice);
      }
      if (order.registrationId) await this.settleRegistration(tx, next, to as 'succeeded' | 'failed', now, effects);
    }
    return { order: next, effects };
  }

  // Returns the notice for the billing desk that created the bill, once it is paid.
  private async settleBill(tx: Tx, order: Order, now: Date): Promise<Notice | null> {
    const bill = await tx.get<Bill>(billKey(order.billId!));
    if (!bill || bill.orderId !== order.orderId || bill.status !== 'paying') {
      tx.audit({ kind: 'payment.bill_state_unexpected', orderId: order.orderId, billId: order.billId!, billStatus: bill?.status ?? 'missing' });
      return null;
    }
    if (order.status !== 'succeeded') {
      setBillStatus(tx, bill, 'open', {});
      return null;
    }
    const paid = setBillStatus(tx, bill, 'paid', { paidAt: now.toISOString() });
    const body: BillPaidBody = {
      billId: paid.billId, reference: paid.reference, orderId: order.orderId,
      amount: order.amount, currency: order.currency, paidAt: paid.paidAt!,
    };
    return { device: paid.createdBy, type: 'bill.paid', body };
  }

  private async settleRegistration(tx: Tx, order: Order, to: 'succeeded' | 'failed', now: Date, effects: Effects): Promise<void> {
    const settled = await this.opts.registrations.settle(tx, order.registrationId!, order.orderId, to, now);
    effects.notices.push(...settled.notices);
    if (settled.changed) effects.pools.push(settled.changed);
    if (settled.refund) {
      // The money came but the slot is gone: never keep it silently.
      const refund = await this.requestRefund(tx, { orderId: order.orderId, registrationId: order.registrationId!, ...settled.refund });
      effects.refunds.push(refund);
      effects.notices.push({ device: order.device, type: 'registration.refunding', body: { registrationId: order.registrationId, refundId: refund.refundId, amount: refund.amount, reason: refund.reason } });
    }
  }

  // Tells whoever waits: the kiosk's pending request, or the kiosk and the billing desk
  // by unsolicited messages once the order is final; sends refunds; republishes pools.
  private async announce(order: Order, effects: Effects): Promise<void> {
    for (const pool of effects.pools) this.opts.poolChanged(pool);
    for (const refund of effects.refunds) this.sendRefund(refund);
    const waiter = this.waiters.get(order.orderId);
    if (waiter) {
      if (this.answerable(order)) waiter();
    } else if (FINAL.has(order.status)) {
      await this.opts.send(order.device, order.requestId, this.answerFor(order));
    }
    if (!FINAL.has(order.status)) return;
    for (const notice of effects.notices) await this.opts.send(notice.device, undefined, { type: notice.type, body: notice.body });
  }
}
