// Dates and sessions in the hospital's local time (gateway.yaml timeZone): a gateway box
// may run on UTC while "today's morning session" is a Beijing-time notion.
import type { DepartmentsRule, SessionRule } from '../../rules/types.js';
import type { HospitalDay } from '../../common/hospital-day.js';

export { addDays } from '../../common/hospital-day.js';

export function localDate(nowMs: number, day: HospitalDay): string {
  return day.dayOf(nowMs);
}

// The instant a session of a date ends: it can be booked until then.
export function sessionEndMs(date: string, session: SessionRule, day: HospitalDay): number {
  return day.at(date, session.endMinute);
}

export function findSession(rules: DepartmentsRule, name: string): SessionRule | undefined {
  return rules.sessions.find((s) => s.name === name);
}
