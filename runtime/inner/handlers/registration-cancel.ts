// registration.cancel (kiosk, registration desk): releases a hold, or cancels a paid
// booking and refunds it. However many times it is sent, the slot comes back once and
// the refund is made once: a cancelled registration neither holds nor books a slot.
// A resend of the same request is answered with the registration's current state (as
// a resent payment.request is with its order's), so a device that asks again after the
// refund is done learns `refunded`, not the `refunding` of the first answer.
import type { RegistrationCancelBody, RegistrationCancelledBody } from '../../../devices/protocol.js';
import { assert } from '../../common/errors.js';
import type { Answer, Handler } from '../gap/handler.js';
import { regKey, type Registration, type Registrations } from '../registration/registrations.js';
import type { OrderBook } from '../payments/order-book.js';
import type { Refund } from '../payments/refunds.js';
import type { Store } from '../store/store.js';

export function registrationCancel(store: Store, registrations: Registrations, payments: OrderBook, now: () => Date = () => new Date()): Handler {
  return {
    type: 'registration.cancel',
    async accept(tx, request) {
      const { registrationId, patientId } = request.body as unknown as RegistrationCancelBody;
      const result = await registrations.cancel(tx, registrationId, patientId, now());
      let refund: Refund | undefined;
      if (result.refund) {
        refund = await payments.requestRefund(tx, { orderId: result.registration.orderId!, registrationId, ...result.refund });
      }
      // Read back: the refund's id was written to the registration after the cancel.
      const current = (await tx.get<Registration>(regKey(registrationId))) ?? result.registration;
      return {
        kind: 'answer', ref: registrationId, answer: cancelledAnswer(current),
        effects: [
          ...(result.changed ? [{ kind: 'slots' as const, pool: result.changed }] : []),
          ...(refund ? [{ kind: 'refund' as const, refund }] : []),
        ],
      };
    },
    async replay(record) {
      // A record from before resends were answered afresh keeps its stored answer.
      if (record.ref === undefined) {
        assert(record.answer !== undefined, 'a registration.cancel record has a registration or an answer');
        return record.answer;
      }
      const reg = await store.get<Registration>(regKey(record.ref));
      assert(reg !== undefined, `registration ${record.ref} of an accepted registration.cancel exists`);
      return cancelledAnswer(reg);
    },
  };
}

function cancelledAnswer(reg: Registration): Answer {
  const body: RegistrationCancelledBody = {
    registrationId: reg.registrationId, status: reg.status, ...(reg.refundId ? { refundId: reg.refundId } : {}),
  };
  return { type: 'registration.cancelled', body };
}
