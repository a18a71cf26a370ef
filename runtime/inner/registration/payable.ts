// A registration hold as what an order pays for: booked when the order succeeds (or
// refunded when no slot is left), back to held or expired when it fails; a refund
// moves it to refunding and then refunded or refund_failed (registrations.ts).
import type { Payable } from '../payments/payable.js';
import type { Registrations } from './registrations.js';

export function registrationPayable(registrations: Registrations): Payable {
  return {
    async claim(tx, body, now) {
      if (body.registrationId === undefined) return undefined;
      const reg = await registrations.payable(tx, body.registrationId, body.amount, now);
      return {
        pays: { registrationId: reg.registrationId }, patientId: reg.patientId, amount: reg.fee, description: `Registration fee ${reg.registrationId}`,
        paying: (orderId) => registrations.markPaying(tx, reg, orderId, now),
      };
    },

    pays: (order) => order.registrationId !== undefined,

    async settle(tx, order, now) {
      const settled = await registrations.settle(tx, order.registrationId!, order.orderId, order.status as 'succeeded' | 'failed', now);
      return { notices: settled.notices, pools: settled.changed ? [settled.changed] : [], ...(settled.refund ? { refund: settled.refund } : {}) };
    },

    async refunding(tx, refund, now) {
      if (refund.registrationId) await registrations.refunding(tx, refund.registrationId, refund.refundId, now);
    },

    async refunded(tx, refund, ok, reason, now) {
      if (!refund.registrationId) return null;
      return registrations.refunded(tx, refund.registrationId, refund.refundId, ok, refund.amount, reason, now);
    },
  };
}
