// A rule set for load runs: the example rules with every rate limit lifted to the rules'
// maximum (a load device sends far more than a kiosk ever would), N load kiosks, one
// load billing desk that creates the bills the kiosks pay, and load departments bookable
// tomorrow with room for every registration a run makes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, scryptSync } from 'node:crypto';
import YAML from 'yaml';
import { assert } from '../../runtime/common/errors.js';
import type { Credential } from './devices-file.js';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const EXAMPLE_RULES = path.join(PROJECT, 'rules');

// The rules allow 10,000 devices: the load rules hold only load devices, the billing desk
// and at most this many kiosks.
export const LOAD_DEVICES_MAX = 10_000;
export const LOAD_KIOSKS_MAX = LOAD_DEVICES_MAX - 1;
export const LOAD_DEVICES_FILE = 'load-devices.txt';
export const LOAD_DESK_ID = 'load-desk';
// The rules' own maxima (runtime/rules/defaults.ts): as fast as the gateway lets one device go.
export const LOAD_RATE = { perMinute: 60_000, burst: 10_000 };
// departments.yaml allows at most 10,000 per session; this many departments give a run
// 2 x 10 x 10,000 holds before a session sells out.
export const LOAD_DEPTS = 10;
const LOAD_CAPACITY = 10_000;
// The cheapest cost the rules accept: a 10,000-device rule set loads and connects fast.
const SCRYPT_COST = { N: 1024, r: 8, p: 1 };

export interface LoadRules {
  rulesDir: string;
  kiosks: Credential[];
  desk: Credential;
  desks: Credential[]; // desk first; more desks create bills faster (each has its own rate limit)
  depts: string[];
  remove(): void;
}

export function loadDeviceId(i: number): string {
  return `load-${String(i + 1).padStart(5, '0')}`;
}

export function loadDeptCode(i: number): string {
  return `LOAD${String(i + 1).padStart(2, '0')}`;
}

// `target`: a new directory to write (default: a fresh temp dir); `baseDir`: the rules
// the load rules start from.
export function writeLoadRules(devices: number, o: { baseDir?: string; target?: string; desks?: number } = {}): LoadRules {
  const deskCount = o.desks ?? 1;
  assert(Number.isSafeInteger(devices) && devices >= 1, 'at least one load device');
  assert(Number.isSafeInteger(deskCount) && deskCount >= 1, 'at least one load billing desk');
  assert(devices + deskCount <= LOAD_DEVICES_MAX, `at most ${LOAD_DEVICES_MAX} load devices, billing desks included`);
  const rulesDir = o.target ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-load-rules-'));
  if (o.target) fs.mkdirSync(rulesDir, { recursive: true });
  fs.cpSync(o.baseDir ?? EXAMPLE_RULES, rulesDir, { recursive: true });
  liftRates(path.join(rulesDir, 'messages.yaml'));
  const depts = addDepartments(path.join(rulesDir, 'departments.yaml'));
  // One password for every load device, hashed once with its own salt: a 10,000-device
  // rule set is written in a second, and the gateway still runs scrypt once per device.
  const password = `load-${randomBytes(9).toString('base64url')}`;
  const hash = cheapHash(password);
  const kiosks = Array.from({ length: devices }, (_, i) => ({ id: loadDeviceId(i), password }));
  const desks = Array.from({ length: deskCount }, (_, i) => ({ id: i === 0 ? LOAD_DESK_ID : `${LOAD_DESK_ID}-${i + 1}`, password }));
  writeDevices(path.join(rulesDir, 'devices.yaml'), kiosks.map((k) => k.id), desks.map((d) => d.id), hash);
  // For `ferry sim load --devices-file` against a gateway started on these rules.
  fs.writeFileSync(path.join(rulesDir, LOAD_DEVICES_FILE), [...desks, ...kiosks].map((d) => `${d.id}:${d.password}\n`).join(''), { mode: 0o600 });
  return { rulesDir, kiosks, desk: desks[0]!, desks, depts, remove: () => fs.rmSync(rulesDir, { recursive: true, force: true }) };
}

function liftRates(file: string): void {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  const types = doc.get('messages') as YAML.YAMLMap<unknown, YAML.YAMLMap>;
  for (const pair of types.items) pair.value!.set('rate', doc.createNode(LOAD_RATE));
  fs.writeFileSync(file, doc.toString());
}

function addDepartments(file: string): string[] {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  if (Number(doc.get('bookAheadDays') ?? 0) < 1) doc.set('bookAheadDays', 1);
  const sessions = Object.keys((doc.get('sessions') as YAML.YAMLMap).toJSON() as object);
  const departments = doc.get('departments') as YAML.YAMLMap;
  const codes = Array.from({ length: LOAD_DEPTS }, (_, i) => loadDeptCode(i));
  for (const code of codes) {
    departments.set(code, doc.createNode({
      name: `Load test ${code}`, fees: { regular: 1000 },
      capacity: Object.fromEntries(sessions.map((s) => [s, LOAD_CAPACITY])),
    }));
  }
  fs.writeFileSync(file, doc.toString());
  return codes;
}

// Only load devices (the example devices would leave less room under the rules' 10,000),
// written as text: building 10,000 YAML nodes costs seconds, a string join nothing.
function writeDevices(file: string, kiosks: string[], desks: string[], hash: string): void {
  const lines = desks.map((desk) => `  - { id: ${desk}, role: billing_desk, password: "${hash}" }`);
  for (const id of kiosks) lines.push(`  - { id: ${id}, role: kiosk, password: "${hash}" }`);
  fs.writeFileSync(file, `# Load devices written by sim/load/rules.ts; they share one password.\ndevices:\n${lines.join('\n')}\n`);
}

function cheapHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, SCRYPT_COST);
  return `scrypt$${SCRYPT_COST.N}$${SCRYPT_COST.r}$${SCRYPT_COST.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}
