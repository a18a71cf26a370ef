// A bill as what an order pays for: paid when the order succeeds (and the desk that
// created it is told, bill.paid), open to pay again when it fails. Bills are not
// refunded by the gateway.
import type { BillPaidBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Payable } from '../payments/payable.js';
import { billKey, setBillStatus, type Bill } from './bills.js';

export const billPayable: Payable = {
  // Exactly what the bill owes, and only while it is open: a bill with a payment in
  // flight is BILL_NOT_OPEN, which is what keeps it from being paid twice.
  async claim(tx, body) {
    if (body.billId === undefined) return undefined;
    const bill = await tx.get<Bill>(billKey(body.billId));
    if (!bill) throw new FerryError('BILL_NOT_FOUND', `No bill ${body.billId}.`, '/body/billId');
    if (bill.status !== 'open') throw new FerryError('BILL_NOT_OPEN', `Bill ${body.billId} is ${bill.status}.`, '/body/billId');
    if (body.amount !== bill.total || body.currency !== bill.currency) {
      throw new FerryError('AMOUNT_MISMATCH', `Bill ${body.billId} owes ${bill.total} ${bill.currency}, not ${body.amount} ${body.currency}.`, '/body/amount');
    }
    return {
      pays: { billId: bill.billId }, patientId: bill.patientId, amount: bill.total, description: `Hospital bill ${bill.billId}`,
      paying: (orderId) => void setBillStatus(tx, bill, 'paying', { orderId }),
    };
  },

  pays: (order) => order.billId !== undefined,

  async settle(tx, order, now) {
    const bill = await tx.get<Bill>(billKey(order.billId!));
    if (!bill || bill.orderId !== order.orderId || bill.status !== 'paying') {
      tx.audit({ kind: 'payment.bill_state_unexpected', orderId: order.orderId, billId: order.billId!, billStatus: bill?.status ?? 'missing' });
      return { notices: [], pools: [] };
    }
    if (order.status !== 'succeeded') {
      setBillStatus(tx, bill, 'open', {});
      return { notices: [], pools: [] };
    }
    const paid = setBillStatus(tx, bill, 'paid', { paidAt: now.toISOString() });
    const body: BillPaidBody = {
      billId: paid.billId, reference: paid.reference, orderId: order.orderId,
      amount: order.amount, currency: order.currency, paidAt: paid.paidAt!,
    };
    return { notices: [{ device: paid.createdBy, type: 'bill.paid', body }], pools: [] };
  },

  async refunding() {},
  async refunded() {
    return null;
  },
};
