// What retention may delete, per kind, and what it must keep. Each kind names its
// records' prefix and, for one record read inside the pruning transaction, the keys to
// delete with it (its indexes), or null when it stays. Open items always stay:
// orders and refunds not final or still journaled, unpaid bills, registrations that
// hold a slot, await a payment or a refund, unacknowledged dispatches. Outbox messages
// go once their device acknowledges them, or past the idempotency days.
import type { RetentionConfig } from '../../rules/types.js';
import { addDays, type HospitalDay } from '../../common/hospital-day.js';
import type { Tx } from '../store/store.js';
import { billKey, patientIndexKey, referenceKey, type Bill } from '../billing/bills.js';
import { FINAL, journalKey, orderKey, ordersOfKey, type Order } from '../payments/order.js';
import { ofOrderKey, refundJournalKey, type Refund } from '../payments/refunds.js';
import { regKey, regsOfKey, type Registration } from '../registration/registrations.js';
import { visitNoKey } from '../registration/pools.js';
import { byDeptKey, type DispatchRecord } from '../dispatch/records.js';
import type { IdempotencyRecord } from '../gap/handler.js';
import { OUTBOX_PREFIX, type OutboxEntry } from '../outbox/records.js';
import { KEYSPACE } from '../store/keyspace.js';

export type RetentionKind = 'payments' | 'refunds' | 'notifications' | 'bills' | 'registrations' | 'dispatches' | 'idempotency' | 'outbox';

export interface PruneRule {
  kind: RetentionKind;
  prefix: string;
  days(config: RetentionConfig): number;
  // The letter of the records' ids when they are `<letter><yyyymmdd>-…` (ids.ts) and the
  // time a record is judged by is never before its id's UTC day: the scan then stops at
  // the first id of a day that starts at or after the cutoff, instead of reading every
  // record kept (months of them) to find the one day that goes.
  idLetter?: string;
  // For records that are not keyed by time (so every one is read), a check of the value
  // as the page listed it: false when the record cannot go yet, and the page's
  // transaction skips it. Only for a time that a later write can move forward, never
  // back, so that "too young when listed" still holds inside the transaction.
  mayGo?(value: unknown, cutoffMs: number): boolean;
  // The keys to delete with the record at `key`, or null when it must stay.
  plan(tx: Tx, key: string, value: unknown, cutoffMs: number, day: DayRanges): Promise<string[] | null>;
}

// What a rule asks of the hospital's calendar.
export type DayRanges = Pick<HospitalDay, 'rangeOf'>;

// A day's range through the time zone costs about 70 us (several Intl lookups), and a
// page of registrations all ask it for the same few visit days: remembered for one run,
// a page of 100 judged in one turn no longer blocks the event loop for 7 ms.
export function rememberingRanges(day: HospitalDay): DayRanges {
  const ranges = new Map<string, { startMs: number; endMs: number }>();
  return {
    rangeOf(date) {
      let range = ranges.get(date);
      if (range === undefined) ranges.set(date, (range = day.rangeOf(date)));
      return { ...range };
    },
  };
}

// Days are the hospital's (gateway.yaml timeZone): `days: N` keeps today and the N days
// before it whole, so what goes is decided by the calendar a person reads, not by hours.
export function cutoffOf(now: Date, days: number, day: HospitalDay): number {
  return day.rangeOf(addDays(day.dayOf(now), -days)).startMs;
}

const olderThan = (iso: string | undefined, cutoffMs: number) => iso !== undefined && Date.parse(iso) < cutoffMs;

// Registrations in these states still hold a slot, wait for money, or need a person.
const REGISTRATION_OPEN: ReadonlySet<string> = new Set(['held', 'paying', 'lapsed', 'refunding', 'refund_failed']);

export const PRUNE_RULES: readonly PruneRule[] = [
  {
    kind: 'payments', prefix: KEYSPACE.order.prefix, days: (c) => c.paymentsDays, idLetter: 'P', // judged by updatedAt
    async plan(tx, key, value, cutoffMs) {
      const order = value as Order;
      if (!FINAL.has(order.status) || !olderThan(order.updatedAt, cutoffMs)) return null;
      if (await tx.get(journalKey(order.orderId))) return null;
      // The patient's index entry, found through what the order paid: a bill or a
      // registration stays as long as the order it names (below), so it is still there.
      const owner = await tx.get<{ patientId?: string }>(order.billId !== undefined ? billKey(order.billId) : regKey(order.registrationId ?? ''));
      return owner?.patientId !== undefined ? [key, ordersOfKey(owner.patientId, order.orderId)] : [key];
    },
  },
  {
    // Refunds go with payments: they are the same money, kept as long.
    kind: 'refunds', prefix: KEYSPACE.refund.prefix, days: (c) => c.paymentsDays, idLetter: 'F', // updatedAt
    async plan(tx, key, value, cutoffMs) {
      const refund = value as Refund;
      if (refund.status === 'requested' || !olderThan(refund.updatedAt, cutoffMs)) return null;
      if (await tx.get(refundJournalKey(refund.refundId))) return null;
      return [key, ofOrderKey(refund.orderId, refund.refundId)];
    },
  },
  {
    // A notification's dedup record outlives nothing it protects: it goes with its order.
    kind: 'notifications', prefix: KEYSPACE.notify.prefix, days: (c) => c.paymentsDays,
    async plan(tx, key, value) {
      const { orderId } = value as { orderId: string };
      return (await tx.get(orderKey(orderId))) === undefined ? [key] : null;
    },
  },
  {
    kind: 'bills', prefix: KEYSPACE.bill.prefix, days: (c) => c.billsDays, idLetter: 'B', // paidAt or createdAt
    async plan(tx, key, value, cutoffMs) {
      const bill = value as Bill;
      if (bill.status !== 'paid' || !olderThan(bill.paidAt ?? bill.createdAt, cutoffMs)) return null;
      // Kept while its order is: the order's patient is read from it.
      if (bill.orderId !== undefined && (await tx.get(orderKey(bill.orderId))) !== undefined) return null;
      return [key, patientIndexKey(bill.patientId, bill.billId), referenceKey(bill.createdBy, bill.reference)];
    },
  },
  {
    kind: 'registrations', prefix: KEYSPACE.reg.prefix, days: (c) => c.registrationsDays, idLetter: 'R', // updatedAt or createdAt
    async plan(tx, key, value, cutoffMs, day) {
      const reg = value as Registration;
      if (REGISTRATION_OPEN.has(reg.status) || !olderThan(reg.updatedAt ?? reg.createdAt, cutoffMs)) return null;
      if (reg.orderId !== undefined && (await tx.get(orderKey(reg.orderId))) !== undefined) return null;
      // A booking is kept until its visit day has passed the cutoff too.
      if (day.rangeOf(reg.date).endMs > cutoffMs) return null;
      return [key, regsOfKey(reg.patientId, reg.registrationId),
        ...(reg.visitNo !== undefined ? [visitNoKey(reg.dept, reg.date, reg.session, reg.visitNo)] : [])];
    },
  },
  {
    kind: 'dispatches', prefix: KEYSPACE.dispatch.prefix, days: (c) => c.dispatchesDays, idLetter: 'D', // ackedAt or createdAt
    async plan(_tx, key, value, cutoffMs) {
      const record = value as DispatchRecord;
      if (record.status !== 'acked' || !olderThan(record.ackedAt ?? record.createdAt, cutoffMs)) return null;
      return [key, byDeptKey(record.dept, record.seq)];
    },
  },
  {
    kind: 'idempotency', prefix: KEYSPACE.idem.prefix, days: (c) => c.idempotencyDays,
    mayGo: (value, cutoffMs) => olderThan((value as IdempotencyRecord).at, cutoffMs),
    async plan(_tx, key, value, cutoffMs) {
      // Records written before `at` existed have no age: they stay.
      return olderThan((value as IdempotencyRecord).at, cutoffMs) ? [key] : null;
    },
  },
  {
    // A message no device acknowledged in this long is for a device that is gone; what
    // it said can still be asked for as long as the request's idempotency record lasts.
    kind: 'outbox', prefix: OUTBOX_PREFIX, days: (c) => c.idempotencyDays,
    mayGo: (value, cutoffMs) => olderThan((value as OutboxEntry).at, cutoffMs),
    async plan(_tx, key, value, cutoffMs) {
      return olderThan((value as OutboxEntry).at, cutoffMs) ? [key] : null;
    },
  },
];
