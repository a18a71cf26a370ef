// Which department a patient's message goes to (docs/dispatch.md): the booking's, else
// the one the kiosk named, else the first triage rule that matches the symptoms, else
// triage.yaml's default.
import type { DispatchPriority, DispatchRoute, PatientInfoBody } from '../../../devices/protocol.js';
import { normalise, type TriageRule, type TriageRules } from '../../rules/triage.js';
import type { Tx } from '../store/store.js';
import { key } from '../store/keyspace.js';

export interface Route {
  dept: string;
  priority: DispatchPriority;
  routedBy: DispatchRoute;
  rule?: string;
}

// The registration module's booking record: only the fields read here.
interface Booking { dept?: unknown; status?: unknown }
export const bookingKey = (registrationId: string) => key('reg', registrationId);

export async function routeOf(tx: Tx, body: PatientInfoBody, triage: TriageRules): Promise<Route> {
  const matched = classify(body.symptoms, triage);
  if (body.registrationId !== undefined) {
    const booking = await tx.get<Booking>(bookingKey(body.registrationId));
    if (booking?.status === 'booked' && typeof booking.dept === 'string') {
      return { dept: booking.dept, priority: matched.priority, routedBy: 'booking' };
    }
  }
  if (body.dept !== undefined) return { dept: body.dept, priority: matched.priority, routedBy: 'dept' };
  return matched;
}

// Triage of the symptoms text alone. The priority of a matching rule holds even when
// the booking or the kiosk decides the department: chest pain is urgent everywhere.
export function classify(symptoms: string, triage: TriageRules): Route {
  const text = normalise(symptoms);
  const rule = triage.rules.find((r) => matches(r, text));
  if (rule) return { dept: rule.dept, priority: rule.priority, routedBy: 'triage', rule: rule.name };
  return { dept: triage.default.dept, priority: triage.default.priority, routedBy: 'default' };
}

function matches(rule: TriageRule, text: string): boolean {
  return rule.keywords.some((k) => hasKeyword(text, k)) || rule.patterns.some((p) => p.test(text));
}

const ASCII_WORD = /^[a-z0-9 ]+$/;
const WORD_CHAR = /[\p{L}\p{N}]/u;

// A keyword of ASCII letters and digits matches whole words ("ear" is not in "heart");
// any other keyword (Chinese has no spaces between words) matches anywhere.
export function hasKeyword(text: string, keyword: string): boolean {
  if (!ASCII_WORD.test(keyword)) return text.includes(keyword);
  for (let at = text.indexOf(keyword); at >= 0; at = text.indexOf(keyword, at + 1)) {
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + keyword.length] ?? '';
    if (!WORD_CHAR.test(before) && !WORD_CHAR.test(after)) return true;
  }
  return false;
}
