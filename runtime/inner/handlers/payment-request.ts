// payment.request (kiosk, registration desk, billing desk): pays an open bill, or a
// registration hold, with exactly what it costs. Its payable (a bill, a registration:
// payments/payable.ts) checks the target; the order is journaled and the target marked
// as being paid in one transaction, so a second payment for it is refused from then on.
import type { PaymentRequestBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Handler } from '../gap/handler.js';
import type { OrderBook } from '../payments/order-book.js';
import type { Payable } from '../payments/payable.js';
import { answerFor } from '../payments/answers.js';

export function paymentRequest(payments: OrderBook, payables: readonly Payable[], now: () => Date = () => new Date()): Handler {
  return {
    type: 'payment.request',
    async accept(tx, request, device) {
      const body = request.body as unknown as PaymentRequestBody;
      let claim;
      for (const payable of payables) if ((claim = await payable.claim(tx, body, now()))) break;
      // The schema asks for exactly one of billId and registrationId.
      if (!claim) throw new FerryError('INTERNAL', 'payment.request names nothing to pay');
      const order = await payments.open(tx, {
        device: device.id, requestId: request.id, pays: claim.pays, patientId: claim.patientId, amount: claim.amount, method: body.method,
        ...(body.authCode ? { authCode: body.authCode } : {}), description: claim.description,
      });
      claim.paying(order.orderId);
      // The answer is asked for before the order is sent across, so that its wait sees
      // an outcome however fast it comes.
      return { kind: 'later', ref: order.orderId, answer: () => payments.firstAnswer(order), effects: [{ kind: 'order', order }] };
    },
    async replay(record) {
      return answerFor(await payments.order(record.ref!));
    },
  };
}
