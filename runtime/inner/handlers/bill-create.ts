// bill.create (billing desk): an itemised bill; the gateway recomputes the total.
import type { BillCreateBody, BillCreatedBody } from '../../../devices/protocol.js';
import type { Handler } from '../gap/handler.js';
import { createBill } from '../billing/bills.js';

export function billCreate(now: () => Date = () => new Date()): Handler {
  return {
    type: 'bill.create',
    async accept(tx, request, device) {
      const bill = await createBill(tx, device.id, request.body as unknown as BillCreateBody, now());
      tx.audit({ kind: 'bill.created', billId: bill.billId, reference: bill.reference, total: bill.total, items: bill.items.length, device: device.id });
      const body: BillCreatedBody = { billId: bill.billId, reference: bill.reference, total: bill.total, currency: bill.currency, status: 'open' };
      return { kind: 'answer', answer: { type: 'bill.created', body }, effects: [] };
    },
  };
}
