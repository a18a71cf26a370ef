// registration.query (kiosk, registration desk): a patient's registrations with their
// status and visit numbers, for a device that missed registration.booked or restarted.
// Like bill.query, the answer is not stored: a resend gets the registrations as they
// are now.
import type { RegistrationListBody, RegistrationQueryBody, RegistrationSummary } from '../../../devices/protocol.js';
import type { Answer, Handler } from '../gap/handler.js';
import type { Store } from '../store/store.js';
import { regKey, type Registration } from '../registration/registrations.js';
import { prefixOf } from '../store/keyspace.js';

// A patient's newest registrations; far more than anyone holds, and a bounded answer.
export const REGISTRATIONS_LISTED_MAX = 50;

export function registrationQuery(store: Store): Handler {
  const list = async (q: RegistrationQueryBody): Promise<Answer> => {
    const ids = await store.list<string>(prefixOf('regsOf', q.patientId), { reverse: true, limit: q.date ? undefined : REGISTRATIONS_LISTED_MAX });
    const registrations: RegistrationSummary[] = [];
    for (const [, id] of ids) {
      const reg = await store.get<Registration>(regKey(id));
      if (!reg || (q.date !== undefined && reg.date !== q.date)) continue;
      registrations.push(summary(reg));
      if (registrations.length === REGISTRATIONS_LISTED_MAX) break;
    }
    const body: RegistrationListBody = { patientId: q.patientId, registrations: registrations.reverse() };
    return { type: 'registration.list', body };
  };
  return {
    type: 'registration.query',
    async accept(_tx, request) {
      const q = request.body as unknown as RegistrationQueryBody;
      return { kind: 'answer', effects: [], ref: JSON.stringify(q), audit: { patientId: q.patientId, ...(q.date !== undefined ? { date: q.date } : {}) }, answer: await list(q) };
    },
    async replay(record) {
      return list(JSON.parse(record.ref!) as RegistrationQueryBody);
    },
  };
}

function summary(r: Registration): RegistrationSummary {
  return {
    registrationId: r.registrationId, dept: r.dept, date: r.date, session: r.session, level: r.level, fee: r.fee, currency: r.currency,
    status: r.status,
    ...(r.visitNo !== undefined ? { visitNo: r.visitNo } : {}),
    ...(r.orderId !== undefined ? { orderId: r.orderId } : {}),
    ...(r.refundId !== undefined ? { refundId: r.refundId } : {}),
    ...(r.status === 'held' || r.status === 'paying' ? { expiresAt: r.expiresAt } : {}),
  };
}
