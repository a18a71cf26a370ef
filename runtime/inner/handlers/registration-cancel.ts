// registration.cancel (kiosk, registration desk): releases a hold, or cancels a paid
// booking and refunds it. However many times it is sent, the slot comes back once and
// the refund is made once: a cancelled registration neither holds nor books a slot.
import type { RegistrationCancelBody, RegistrationCancelledBody } from '../../../devices/protocol.js';
import type { Handler } from '../gap/handler.js';
import type { Registrations } from '../registration/registrations.js';
import type { SlotPool } from '../registration/pools.js';
import type { Payments } from '../payments/payments.js';
import type { Refund } from '../payments/refunds.js';

export function registrationCancel(registrations: Registrations, payments: Payments, poolChanged: (pool: SlotPool) => void, now: () => Date = () => new Date()): Handler {
  return {
    type: 'registration.cancel',
    async accept(tx, request) {
      const { registrationId, patientId } = request.body as unknown as RegistrationCancelBody;
      const result = await registrations.cancel(tx, registrationId, patientId, now());
      let refund: Refund | undefined;
      if (result.refund) {
        refund = await payments.requestRefund(tx, { orderId: result.registration.orderId!, registrationId, ...result.refund });
      }
      const body: RegistrationCancelledBody = {
        registrationId, status: refund ? 'refunding' : result.registration.status,
        ...(refund ? { refundId: refund.refundId } : result.registration.refundId ? { refundId: result.registration.refundId } : {}),
      };
      return {
        answer: { type: 'registration.cancelled', body },
        onCommitted: () => {
          if (result.changed) poolChanged(result.changed);
          if (refund) payments.sendRefund(refund);
        },
      };
    },
  };
}
