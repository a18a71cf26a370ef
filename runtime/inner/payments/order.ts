// A payment order and the guarded state machine it moves through. The inner side's
// journal holds every order that is not final; it is the source of truth that the
// outer side is resent after any restart (docs/design.md, "Two processes, one narrow channel").
//
//   accepted ─► pending ─► succeeded
//       │         │    └► failed
//       └─────────┴─► unknown ─► (pending | succeeded | failed)
//
// A timeout makes an order `unknown`, never `failed`: the charge may have happened.
// `sent` (the outer side acknowledged the order) is kept for orders stored by earlier
// versions; it is no longer written.
import { assert } from '../../common/errors.js';
import { key } from '../store/keyspace.js';

export type OrderStatus = 'accepted' | 'sent' | 'pending' | 'unknown' | 'succeeded' | 'failed';
export const FINAL: ReadonlySet<OrderStatus> = new Set(['succeeded', 'failed']);

const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  accepted: ['sent', 'pending', 'unknown', 'succeeded', 'failed'],
  sent: ['pending', 'unknown', 'succeeded', 'failed'],
  pending: ['unknown', 'succeeded', 'failed'],
  unknown: ['sent', 'pending', 'succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return NEXT[from].includes(to);
}

export interface Order {
  orderId: string;
  device: string;
  requestId: string;
  // What the order pays: a bill, or a registration hold.
  billId?: string;
  registrationId?: string;
  amount: number;
  currency: 'CNY';
  method: 'code' | 'qr';
  authCode?: string; // the wallet's one-time code, kept only until the order is final
  description: string;
  status: OrderStatus;
  qrCode?: string;
  reason?: string;
  createdAt: string;
  updatedAt: string;
}

export const orderKey = (orderId: string) => key('order', orderId);
export const journalKey = (orderId: string) => key('journal', orderId);
// A patient's orders, in id (so time) order: what `ferry query payments --patient` reads.
// The patient is the one of the bill or registration the order pays; the order itself
// does not name the patient, since orders cross the channel.
export const ordersOfKey = (patientId: string, orderId: string) => key('ordersOf', patientId, orderId);

export function moved(order: Order, to: OrderStatus, change: Partial<Pick<Order, 'qrCode' | 'reason'>>, now: Date): Order {
  assert(canMove(order.status, to), `order ${order.orderId} may move from ${order.status} to ${to}`);
  const next: Order = { ...order, ...change, status: to, updatedAt: now.toISOString() };
  if (FINAL.has(to)) delete next.authCode;
  return next;
}

// What the kiosk is told: anything not final is `pending` to a patient.
export function kioskStatus(status: OrderStatus): 'pending' | 'succeeded' | 'failed' {
  return status === 'succeeded' || status === 'failed' ? status : 'pending';
}
