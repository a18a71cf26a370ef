// payment.request (kiosk, registration desk, billing desk): pays an open bill with
// exactly what it owes. The order is journaled and the bill marked `paying` in one
// transaction, so a second payment for the same bill is refused from then on.
import type { PaymentRequestBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Handler } from '../gap/handler.js';
import { billKey, setBillStatus, type Bill } from '../billing/bills.js';
import type { Payments } from '../payments/payments.js';

export function paymentRequest(payments: Payments): Handler {
  return {
    type: 'payment.request',
    async accept(tx, request, device) {
      const body = request.body as unknown as PaymentRequestBody;
      const bill = await tx.get<Bill>(billKey(body.billId));
      if (!bill) throw new FerryError('BILL_NOT_FOUND', `No bill ${body.billId}.`, '/body/billId');
      if (bill.status !== 'open') throw new FerryError('BILL_NOT_OPEN', `Bill ${body.billId} is ${bill.status}.`, '/body/billId');
      if (body.amount !== bill.total || body.currency !== bill.currency) {
        throw new FerryError('AMOUNT_MISMATCH', `Bill ${body.billId} owes ${bill.total} ${bill.currency}, not ${body.amount} ${body.currency}.`, '/body/amount');
      }
      const order = await payments.open(tx, {
        device: device.id, requestId: request.id, billId: bill.billId, amount: bill.total, method: body.method,
        ...(body.authCode ? { authCode: body.authCode } : {}), description: `Hospital bill ${bill.billId}`,
      });
      setBillStatus(tx, bill, 'paying', { orderId: order.orderId });
      return { ref: order.orderId, afterCommit: () => payments.firstAnswer(order.orderId) };
    },
    async replay(record) {
      return payments.answerFor(await payments.order(record.ref!));
    },
  };
}
