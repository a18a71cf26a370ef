// Dates and sessions in the hospital's local time (departments.yaml utcOffset): a
// gateway box may run on UTC while "today's morning session" is a Beijing-time notion.
import type { DepartmentsRule, SessionRule } from '../../rules/types.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export function localDate(nowMs: number, rules: DepartmentsRule): string {
  return new Date(nowMs + rules.utcOffsetMinutes * MINUTE_MS).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

// The instant a session of a date ends: it can be booked until then.
export function sessionEndMs(date: string, session: SessionRule, rules: DepartmentsRule): number {
  return Date.parse(`${date}T00:00:00Z`) + (session.endMinute - rules.utcOffsetMinutes) * MINUTE_MS;
}

export function findSession(rules: DepartmentsRule, name: string): SessionRule | undefined {
  return rules.sessions.find((s) => s.name === name);
}
