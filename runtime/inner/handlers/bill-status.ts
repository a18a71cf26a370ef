// bill.status (billing desk): the state of one of the desk's own bills, by bill id or by
// the desk's reference, for a desk that missed bill.paid or restarted. A bill another
// desk created is BILL_NOT_FOUND. Like bill.query, the answer is not stored: a resend
// gets the bill as it is now.
import type { BillStateBody, BillStatusBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Answer, Handler } from '../gap/handler.js';
import type { Store } from '../store/store.js';
import { billOfDesk } from '../billing/bills.js';

export function billStatus(store: Store): Handler {
  const state = async (desk: string, by: BillStatusBody): Promise<Answer> => {
    const bill = await billOfDesk(store, desk, by);
    if (!bill) {
      const [what, path] = by.billId !== undefined ? [`bill ${by.billId}`, '/body/billId'] : [`bill with reference ${by.reference}`, '/body/reference'];
      throw new FerryError('BILL_NOT_FOUND', `No ${what} created by this desk.`, path);
    }
    const body: BillStateBody = {
      billId: bill.billId, reference: bill.reference, status: bill.status, total: bill.total, currency: bill.currency, createdAt: bill.createdAt,
      ...(bill.status === 'paid' ? { orderId: bill.orderId!, paidAt: bill.paidAt! } : {}),
    };
    return { type: 'bill.state', body };
  };
  return {
    type: 'bill.status',
    async accept(_tx, request, device) {
      const by = request.body as unknown as BillStatusBody;
      return { kind: 'answer', ref: JSON.stringify(by), answer: await state(device.id, by), effects: [] };
    },
    async replay(record, device) {
      return state(device.id, JSON.parse(record.ref!) as BillStatusBody);
    },
  };
}
