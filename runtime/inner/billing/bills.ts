// Bills: itemised amounts owed by a patient, created by a billing desk. A bill is
// `open` until a payment for it is accepted (`paying`), then `paid`, or `open` again if
// the payment failed. Only one payment can be in flight for a bill: that is what keeps
// a bill from being paid twice.
import type { BillCreateBody, BillItem, BillSummary } from '../../../devices/protocol.js';
import { assert, FerryError } from '../../common/errors.js';
import type { Store, Tx } from '../store/store.js';
import { nextId } from '../ids.js';
import { key, prefixOf } from '../store/keyspace.js';

export type BillStatus = 'open' | 'paying' | 'paid';

export interface Bill {
  billId: string;
  reference: string;
  patientId: string;
  items: BillItem[];
  total: number;
  currency: 'CNY';
  status: BillStatus;
  createdBy: string;
  createdAt: string;
  orderId?: string;
  paidAt?: string;
}

export const billKey = (billId: string) => key('bill', billId);
export const patientIndexKey = (patientId: string, billId: string) => key('billsOf', patientId, billId);
export const referenceKey = (device: string, reference: string) => key('billRef', device, reference);

export function itemsTotal(items: readonly BillItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
}

export async function createBill(tx: Tx, createdBy: string, body: BillCreateBody, now: Date): Promise<Bill> {
  const computed = itemsTotal(body.items);
  if (computed !== body.total) {
    throw new FerryError('TOTAL_MISMATCH', `The items add up to ${computed} fen, not ${body.total}.`, '/body/total');
  }
  if (await tx.get(referenceKey(createdBy, body.reference))) {
    throw new FerryError('DUPLICATE_BILL', `Bill reference ${body.reference} was already created by ${createdBy}.`, '/body/reference');
  }
  const bill: Bill = {
    billId: await nextId(tx, 'B', now),
    reference: body.reference,
    patientId: body.patientId,
    items: body.items,
    total: computed,
    currency: body.currency,
    status: 'open',
    createdBy,
    createdAt: now.toISOString(),
  };
  tx.put(billKey(bill.billId), bill);
  tx.put(patientIndexKey(bill.patientId, bill.billId), bill.billId);
  tx.put(referenceKey(createdBy, bill.reference), bill.billId);
  return bill;
}

// A bill the desk created, by id or by the desk's own reference; another desk's bill is
// not found, so a desk learns nothing of bills it did not make.
export async function billOfDesk(store: Store, desk: string, by: { billId?: string; reference?: string }): Promise<Bill | undefined> {
  const billId = by.billId ?? (by.reference !== undefined ? await store.get<string>(referenceKey(desk, by.reference)) : undefined);
  if (billId === undefined) return undefined;
  const bill = await store.get<Bill>(billKey(billId));
  return bill?.createdBy === desk ? bill : undefined;
}

export async function unpaidBillsOf(store: Store, patientId: string): Promise<BillSummary[]> {
  const index = await store.list<string>(prefixOf('billsOf', patientId));
  const bills: BillSummary[] = [];
  for (const [, billId] of index) {
    const bill = await store.get<Bill>(billKey(billId));
    assert(bill !== undefined, `indexed bill ${billId} exists`);
    if (bill.status === 'paid') continue;
    bills.push({ billId: bill.billId, total: bill.total, currency: bill.currency, items: bill.items, createdAt: bill.createdAt, status: bill.status });
  }
  return bills;
}

export function setBillStatus(tx: Tx, bill: Bill, status: BillStatus, change: { orderId?: string; paidAt?: string }): Bill {
  assert(bill.status !== 'paid', `bill ${bill.billId} is not paid already`);
  const next: Bill = { ...bill, status, ...change };
  if (status === 'open') delete next.orderId;
  tx.put(billKey(bill.billId), next);
  return next;
}
