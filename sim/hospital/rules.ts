// The rule set a simulated hospital runs on: the example rules with the scenario's
// devices (passwords hashed with a cheap scrypt cost, which the rules accept, so that
// hundreds of devices connect in a second), its departments' capacities, registration
// open for tomorrow, and rate limits lifted for load.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, scryptSync } from 'node:crypto';
import YAML from 'yaml';
import type { Role } from '../../runtime/rules/types.js';
import { addDays, HospitalDay, TIME_ZONE_DEFAULT } from '../../runtime/common/hospital-day.js';

export const EXAMPLE_RULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules');

export interface SimDevice { id: string; role: Role; dept?: string; password: string }

export interface SimRulesOptions {
  devices?: SimDevice[];
  departments?: Record<string, { morning: number; afternoon: number; fee?: number }>;
  holdTtlSeconds?: number;
  paymentGraceSeconds?: number;
  rate?: { perMinute: number; burst: number };
  // The store on this PostgreSQL database (its connection string, kept in a file of the
  // rules directory that gateway.yaml names) instead of LevelDB in the data directory.
  postgresUrl?: string;
}

export const LOAD_RATE = { perMinute: 60_000, burst: 5_000 };

export function buildSimRules(o: SimRulesOptions): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-rules-'));
  fs.cpSync(EXAMPLE_RULES, dir, { recursive: true });
  edit(path.join(dir, 'departments.yaml'), (doc) => {
    doc.set('bookAheadDays', 1);
    if (o.holdTtlSeconds !== undefined) doc.set('holdTtlSeconds', o.holdTtlSeconds);
    if (o.paymentGraceSeconds !== undefined) doc.set('paymentGraceSeconds', o.paymentGraceSeconds);
    const departments = doc.get('departments') as YAML.YAMLMap;
    for (const [code, c] of Object.entries(o.departments ?? {})) {
      const existing = departments.get(code) as YAML.YAMLMap | undefined;
      if (existing) existing.set('capacity', doc.createNode({ morning: c.morning, afternoon: c.afternoon }));
      else departments.set(code, doc.createNode({ name: `Department ${code}`, fees: { regular: c.fee ?? 1500, expert: 4000 }, capacity: { morning: c.morning, afternoon: c.afternoon } }));
    }
  });
  if (o.rate) {
    edit(path.join(dir, 'messages.yaml'), (doc) => {
      for (const pair of (doc.get('messages') as YAML.YAMLMap<unknown, YAML.YAMLMap>).items) pair.value!.set('rate', doc.createNode(o.rate));
    });
  }
  if (o.postgresUrl !== undefined) {
    fs.writeFileSync(path.join(dir, 'store.url'), `${o.postgresUrl}\n`, { mode: 0o600 });
    edit(path.join(dir, 'gateway.yaml'), (doc) => {
      doc.set('store', doc.createNode({ backend: 'postgres', postgres: { urlFile: 'store.url' } }));
    });
  }
  if (o.devices?.length) {
    edit(path.join(dir, 'devices.yaml'), (doc) => {
      const list = doc.get('devices') as YAML.YAMLSeq;
      for (const d of o.devices!) list.add(doc.createNode({ id: d.id, role: d.role, ...(d.dept ? { dept: d.dept } : {}), password: cheapHash(d.password) }));
    });
  }
  return dir;
}

function edit(file: string, change: (doc: YAML.Document) => void): void {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  change(doc);
  fs.writeFileSync(file, doc.toString());
}

// scrypt with N=1024: fine for simulated devices, far too cheap for real ones.
export function cheapHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 });
  return `scrypt$1024$8$1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

// Tomorrow in the hospital's local time (gateway.yaml timeZone): always bookable,
// whatever the time of day the simulation runs.
export function tomorrowLocal(timeZone = TIME_ZONE_DEFAULT): string {
  return addDays(new HospitalDay(timeZone).dayOf(Date.now()), 1);
}
