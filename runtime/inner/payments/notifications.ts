// What the inner side remembers of each notification it accepted, and what it makes of
// one arriving again under the same id. The store is the only memory of notifications
// that survives a restart of either side: the outer side's caches are an optimisation,
// so this comparison is what keeps a reused id from passing as a duplicate.
import type { NotificationRecord, NotifyRefusedRecord } from '../../channel/records.js';
import type { AuditEvent } from '../store/store.js';
import { key } from '../store/keyspace.js';

export const notifyKey = (notifyId: string) => key('notify', notifyId);

// Stored under notifyKey. Entries written by earlier versions hold orderId and status
// only; their amount was the order's (a notification of another amount was refused).
export interface SeenNotification {
  orderId: string;
  status: NotificationRecord['status'];
  amount?: number;
  currency?: 'CNY';
}

export function seenOf(record: NotificationRecord): SeenNotification {
  return { orderId: record.orderId, status: record.status, amount: record.amount, currency: record.currency };
}

// The fields in which a notification differs from what was accepted under its id
// (empty: a duplicate). `orderAmount` stands in for an old entry's missing amount.
export function differences(seen: SeenNotification, record: NotificationRecord, orderAmount: number | undefined): string[] {
  const amount = seen.amount ?? orderAmount;
  const found: string[] = [];
  if (seen.orderId !== record.orderId) found.push('orderId');
  if (seen.status !== record.status) found.push('status');
  if (amount !== undefined && amount !== record.amount) found.push('amount');
  if ((seen.currency ?? 'CNY') !== record.currency) found.push('currency');
  return found;
}

export function conflictEvent(record: NotificationRecord, seen: SeenNotification, differ: string[]): AuditEvent {
  return {
    kind: 'payment.notification.conflict',
    notifyId: record.notifyId,
    differ,
    accepted: { orderId: seen.orderId, status: seen.status, ...(seen.amount !== undefined ? { amount: seen.amount } : {}) },
    claimed: { orderId: record.orderId, status: record.status, amount: record.amount },
  };
}

// A refusal at the outer side's notification endpoint, as the audit chain keeps it.
export function refusalEvent(record: NotifyRefusedRecord): AuditEvent {
  return {
    kind: 'notify.refused',
    reason: record.reason,
    remote: record.remote,
    count: record.count,
    at: new Date(record.at).toISOString(),
    ...(record.orderId !== undefined ? { orderId: record.orderId } : {}),
  };
}
