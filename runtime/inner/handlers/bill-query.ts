// bill.query (kiosk): the patient's bills not yet paid. The answer is not stored for
// resends: a resent query gets the bills as they are now.
import type { BillListBody, BillQueryBody } from '../../../devices/protocol.js';
import type { Handler } from '../gap/handler.js';
import type { Store } from '../store/store.js';
import { unpaidBillsOf } from '../billing/bills.js';

export function billQuery(store: Store): Handler {
  const list = async (patientId: string) => {
    const body: BillListBody = { patientId, bills: await unpaidBillsOf(store, patientId) };
    return { type: 'bill.list', body };
  };
  return {
    type: 'bill.query',
    async accept(_tx, request) {
      const { patientId } = request.body as unknown as BillQueryBody;
      return { kind: 'answer', ref: patientId, audit: { patientId }, answer: await list(patientId), effects: [] };
    },
    async replay(record) {
      return list(record.ref!);
    },
  };
}
