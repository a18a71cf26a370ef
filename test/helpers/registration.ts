// Rule sets for the registration tests: a test department on tomorrow's date (always
// bookable, whatever the time of day the suite runs), short hold times, and as many
// kiosks as a race needs (sim/hospital/rules.ts hashes their passwords cheaply).
import { buildSimRules, LOAD_RATE, tomorrowLocal, type SimDevice } from '../../sim/hospital/rules.js';

export interface RegistrationRulesOptions {
  kiosks?: number; // extra kiosks `race-001`... with password `pw-race-001`...
  capacity?: { morning: number; afternoon: number };
  holdTtlSeconds?: number;
  paymentGraceSeconds?: number;
}

export function registrationRules(o: RegistrationRulesOptions = {}): { rulesDir: string; kiosks: Array<{ id: string; password: string }> } {
  const kiosks: SimDevice[] = Array.from({ length: o.kiosks ?? 0 }, (_, i) => {
    const id = `race-${String(i + 1).padStart(3, '0')}`;
    return { id, role: 'kiosk', password: `pw-${id}` };
  });
  const rulesDir = buildSimRules({
    devices: kiosks, rate: LOAD_RATE,
    departments: { TST: { ...(o.capacity ?? { morning: 5, afternoon: 3 }), fee: 1500 } },
    holdTtlSeconds: o.holdTtlSeconds ?? 300, paymentGraceSeconds: o.paymentGraceSeconds ?? 600,
  });
  return { rulesDir, kiosks };
}

export const tomorrow = tomorrowLocal;
