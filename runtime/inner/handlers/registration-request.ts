// registration.request (kiosk, registration desk): holds a slot of a session for the
// patient until the hold is paid or expires.
import type { RegistrationHeldBody, RegistrationRequestBody } from '../../../devices/protocol.js';
import type { Handler } from '../gap/handler.js';
import type { Registrations } from '../registration/registrations.js';

export function registrationRequest(registrations: Registrations, now: () => Date = () => new Date()): Handler {
  return {
    type: 'registration.request',
    async accept(tx, request, device) {
      const { registration: r, pool } = await registrations.hold(tx, device.id, request.body as unknown as RegistrationRequestBody, now());
      const body: RegistrationHeldBody = {
        registrationId: r.registrationId, dept: r.dept, date: r.date, session: r.session, level: r.level,
        fee: r.fee, currency: r.currency, expiresAt: r.expiresAt,
      };
      return { kind: 'answer', answer: { type: 'registration.held', body }, effects: [{ kind: 'slots', pool }] };
    },
  };
}
