// payment.request (kiosk, registration desk, billing desk): pays an open bill, or a
// registration hold, with exactly what it costs. The order is journaled and what it
// pays for is marked as being paid in one transaction, so a second payment for the
// same bill or hold is refused from then on.
import type { PaymentRequestBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Handler } from '../gap/handler.js';
import { billKey, setBillStatus, type Bill } from '../billing/bills.js';
import type { OrderBook } from '../payments/order-book.js';
import { answerFor } from '../payments/answers.js';
import type { Registrations } from '../registration/registrations.js';
import type { Tx } from '../store/store.js';

export function paymentRequest(payments: OrderBook, registrations: Registrations, now: () => Date = () => new Date()): Handler {
  const payBill = async (tx: Tx, body: PaymentRequestBody & { billId: string }, device: string, requestId: string) => {
    const bill = await tx.get<Bill>(billKey(body.billId));
    if (!bill) throw new FerryError('BILL_NOT_FOUND', `No bill ${body.billId}.`, '/body/billId');
    if (bill.status !== 'open') throw new FerryError('BILL_NOT_OPEN', `Bill ${body.billId} is ${bill.status}.`, '/body/billId');
    if (body.amount !== bill.total || body.currency !== bill.currency) {
      throw new FerryError('AMOUNT_MISMATCH', `Bill ${body.billId} owes ${bill.total} ${bill.currency}, not ${body.amount} ${body.currency}.`, '/body/amount');
    }
    const order = await payments.open(tx, {
      device, requestId, pays: { billId: bill.billId }, amount: bill.total, method: body.method,
      ...(body.authCode ? { authCode: body.authCode } : {}), description: `Hospital bill ${bill.billId}`,
    });
    setBillStatus(tx, bill, 'paying', { orderId: order.orderId });
    return order;
  };

  const payRegistration = async (tx: Tx, body: PaymentRequestBody & { registrationId: string }, device: string, requestId: string) => {
    const reg = await registrations.payable(tx, body.registrationId, body.amount, now());
    const order = await payments.open(tx, {
      device, requestId, pays: { registrationId: reg.registrationId }, amount: reg.fee, method: body.method,
      ...(body.authCode ? { authCode: body.authCode } : {}), description: `Registration fee ${reg.registrationId}`,
    });
    registrations.markPaying(tx, reg, order.orderId, now());
    return order;
  };

  return {
    type: 'payment.request',
    async accept(tx, request, device) {
      const body = request.body as unknown as PaymentRequestBody;
      const order = body.billId !== undefined
        ? await payBill(tx, body as PaymentRequestBody & { billId: string }, device.id, request.id)
        : await payRegistration(tx, body as PaymentRequestBody & { registrationId: string }, device.id, request.id);
      // The answer is asked for before the order is sent across, so that its wait sees
      // an outcome however fast it comes.
      return { kind: 'later', ref: order.orderId, answer: () => payments.firstAnswer(order), effects: [{ kind: 'order', order }] };
    },
    async replay(record) {
      return answerFor(await payments.order(record.ref!));
    },
  };
}
