// What a device is told of an order: a payment.result, the same whether it is the first
// answer, the answer to a resend or the late result from the outbox.
import type { PaymentResultBody } from '../../../devices/protocol.js';
import type { Answer } from '../gap/handler.js';
import { FINAL, kioskStatus, type Order } from './order.js';

export function answerFor(order: Order): Answer {
  const body: PaymentResultBody = {
    orderId: order.orderId,
    ...(order.billId ? { billId: order.billId } : {}),
    ...(order.registrationId ? { registrationId: order.registrationId } : {}),
    amount: order.amount, currency: order.currency,
    status: kioskStatus(order.status),
    ...(order.qrCode && !FINAL.has(order.status) ? { qrCode: order.qrCode } : {}),
    ...(order.reason ? { reason: order.reason } : {}),
  };
  return { type: 'payment.result', body };
}

// An order is worth a first answer once it is final, or once a QR code is there to show.
export function answerable(order: Order): boolean {
  return FINAL.has(order.status) || (order.method === 'qr' && order.qrCode !== undefined);
}
