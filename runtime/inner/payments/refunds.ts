// Refunds: money sent back for a paid order (a cancelled booking, a payment that came
// after its slot was gone). A refund is journaled like an order and resent to the
// outer side until the payment server has answered it; its id is the idempotency key.
// The refunds of an order never add up to more than it was paid.
import { assert } from '../../common/errors.js';
import type { Tx } from '../store/store.js';
import { nextId } from '../ids.js';
import { orderKey, type Order } from './order.js';
import { key as storeKey, prefixOf } from '../store/keyspace.js';

export type RefundStatus = 'requested' | 'succeeded' | 'failed';

export interface Refund {
  refundId: string;
  orderId: string;
  amount: number;
  currency: 'CNY';
  reason: string;
  registrationId?: string;
  status: RefundStatus;
  createdAt: string;
  updatedAt: string;
}

// Why an operator's retry of a refund was refused (the management API's answer).
export class RefundRetryRefused extends Error {
  constructor(readonly code: 'REFUND_NOT_FOUND' | 'NOT_REFUND_FAILED', message: string) {
    super(message);
  }
}

export const refundKey = (refundId: string) => storeKey('refund', refundId);
export const refundJournalKey = (refundId: string) => storeKey('refundJournal', refundId);
export const ofOrderKey = (orderId: string, refundId: string) => storeKey('refundsOf', orderId, refundId);

export async function createRefund(tx: Tx, o: { orderId: string; amount: number; reason: string; registrationId?: string }, now: Date): Promise<Refund> {
  const order = await tx.get<Order>(orderKey(o.orderId));
  assert(order !== undefined, `order ${o.orderId} exists`);
  assert(order.status === 'succeeded', `order ${o.orderId} to refund succeeded (it is ${order.status})`);
  const refunded = await refundedOf(tx, o.orderId);
  assert(refunded + o.amount <= order.amount, `refunds of ${o.orderId} stay within what was paid (${refunded} + ${o.amount} <= ${order.amount})`);
  const refund: Refund = {
    refundId: await nextId(tx, 'F', now), orderId: o.orderId, amount: o.amount, currency: 'CNY', reason: o.reason,
    ...(o.registrationId ? { registrationId: o.registrationId } : {}),
    status: 'requested', createdAt: now.toISOString(), updatedAt: now.toISOString(),
  };
  tx.put(refundKey(refund.refundId), refund);
  tx.put(refundJournalKey(refund.refundId), refund.createdAt);
  tx.put(ofOrderKey(o.orderId, refund.refundId), refund.refundId);
  tx.audit({ kind: 'refund.requested', refundId: refund.refundId, orderId: o.orderId, amount: o.amount, reason: o.reason });
  return refund;
}

// What the refunds of an order take from it: every refund not failed.
async function refundedOf(tx: Tx, orderId: string): Promise<number> {
  let refunded = 0;
  for (const [, refundId] of await tx.list<string>(prefixOf('refundsOf', orderId))) {
    const earlier = await tx.get<Refund>(refundKey(refundId));
    if (earlier && earlier.status !== 'failed') refunded += earlier.amount;
  }
  return refunded;
}

// An operator retries a declined refund: the same refund, under the same id (the
// payment server's idempotency key), is open again and journaled to be sent across.
// It still may not take the order's refunds past what was paid.
export async function reopenRefund(tx: Tx, refund: Refund, now: Date): Promise<Refund> {
  assert(refund.status === 'failed', `refund ${refund.refundId} failed`);
  const order = await tx.get<Order>(orderKey(refund.orderId));
  assert(order !== undefined, `order ${refund.orderId} exists`);
  const refunded = await refundedOf(tx, refund.orderId);
  assert(refunded + refund.amount <= order.amount, `refunds of ${refund.orderId} stay within what was paid (${refunded} + ${refund.amount} <= ${order.amount})`);
  const next: Refund = { ...refund, status: 'requested', updatedAt: now.toISOString() };
  tx.put(refundKey(refund.refundId), next);
  tx.put(refundJournalKey(refund.refundId), next.updatedAt);
  return next;
}

export function settleRefund(tx: Tx, refund: Refund, ok: boolean, now: Date): Refund {
  assert(refund.status === 'requested', `refund ${refund.refundId} is still open`);
  const next: Refund = { ...refund, status: ok ? 'succeeded' : 'failed', updatedAt: now.toISOString() };
  tx.put(refundKey(refund.refundId), next);
  tx.del(refundJournalKey(refund.refundId));
  tx.audit({ kind: ok ? 'refund.succeeded' : 'refund.failed', refundId: refund.refundId, orderId: refund.orderId, amount: refund.amount });
  return next;
}
