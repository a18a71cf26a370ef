// Rule sets for the registration tests: a test department on tomorrow's date (always
// bookable, whatever the time of day the suite runs), short hold times, and as many
// kiosks as a race needs (their passwords hashed with a cheap scrypt cost, which the
// rules accept, so that 200 kiosks connect in a second).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, scryptSync } from 'node:crypto';
import YAML from 'yaml';
import { copyRules, LOAD_RATE } from './gateway.js';

export interface RegistrationRulesOptions {
  kiosks?: number; // extra kiosks `race-001`... with password `pw-race-001`...
  capacity?: { morning: number; afternoon: number };
  holdTtlSeconds?: number;
  paymentGraceSeconds?: number;
}

export function registrationRules(o: RegistrationRulesOptions = {}): { rulesDir: string; kiosks: Array<{ id: string; password: string }> } {
  const rulesDir = copyRules({ rate: LOAD_RATE });
  const deptFile = path.join(rulesDir, 'departments.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(deptFile, 'utf8'));
  doc.set('bookAheadDays', 1);
  doc.set('holdTtlSeconds', o.holdTtlSeconds ?? 300);
  doc.set('paymentGraceSeconds', o.paymentGraceSeconds ?? 600);
  (doc.get('departments') as YAML.YAMLMap).set('TST', doc.createNode({
    name: 'Test Department', fees: { regular: 1500, expert: 4000 }, capacity: o.capacity ?? { morning: 5, afternoon: 3 },
  }));
  fs.writeFileSync(deptFile, doc.toString());

  const kiosks = Array.from({ length: o.kiosks ?? 0 }, (_, i) => {
    const id = `race-${String(i + 1).padStart(3, '0')}`;
    return { id, password: `pw-${id}` };
  });
  if (kiosks.length > 0) {
    const devFile = path.join(rulesDir, 'devices.yaml');
    const devDoc = YAML.parseDocument(fs.readFileSync(devFile, 'utf8'));
    const list = devDoc.get('devices') as YAML.YAMLSeq;
    for (const k of kiosks) list.add(devDoc.createNode({ id: k.id, role: 'kiosk', password: cheapHash(k.password) }));
    fs.writeFileSync(devFile, devDoc.toString());
  }
  return { rulesDir, kiosks };
}

function cheapHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
  return `scrypt$1024$8$1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

// Tomorrow in the hospital's local time (departments.yaml: +08:00).
export function tomorrow(utcOffsetMinutes = 480): string {
  return new Date(Date.now() + utcOffsetMinutes * 60_000 + 86_400_000).toISOString().slice(0, 10);
}
