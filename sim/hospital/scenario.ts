// Scenarios of `ferry sim hospital`: YAML files in sim/scenarios/, checked against a
// strict schema (an unknown key is an error, not an ignored setting).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import YAML from 'yaml';

export const SCENARIO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../sim/scenarios');

export interface Scenario {
  name: string;
  durationSeconds: number; // how long patients keep arriving (the "day", compressed)
  patients: number;
  seed: number; // the same seed gives the same patients and choices
  devices: { kiosks: number; registrationDesks: number; billingDesks: number; receivers: number; workstationsPerDepartment: number };
  departments: string[];
  capacity: { morning: number; afternoon: number };
  mix: { registration: number; billPayment: number; scanToPay: number; cancellation: number; patientInfo: number };
  paymentServer: {
    latencyMs: number;
    errorRate: number;
    outage?: { atSecond: number; forSeconds: number };
    testOnlyDoubleCharge?: number;
  };
}

const share = { type: 'number', minimum: 0, maximum: 1 };
const count = (max: number) => ({ type: 'integer', minimum: 0, maximum: max });

const schema = {
  type: 'object', additionalProperties: false,
  required: ['name', 'durationSeconds', 'patients', 'devices', 'departments', 'capacity', 'mix'],
  properties: {
    name: { type: 'string', maxLength: 64 },
    durationSeconds: { type: 'number', minimum: 1, maximum: 86_400 },
    patients: count(1_000_000),
    seed: count(2 ** 31),
    devices: {
      type: 'object', additionalProperties: false,
      required: ['kiosks', 'registrationDesks', 'billingDesks', 'receivers', 'workstationsPerDepartment'],
      properties: {
        kiosks: { type: 'integer', minimum: 1, maximum: 10_000 }, registrationDesks: count(1000), billingDesks: { type: 'integer', minimum: 1, maximum: 1000 },
        receivers: count(100), workstationsPerDepartment: { type: 'integer', minimum: 1, maximum: 20 },
      },
    },
    departments: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$' } },
    capacity: { type: 'object', additionalProperties: false, required: ['morning', 'afternoon'], properties: { morning: count(10_000), afternoon: count(10_000) } },
    mix: {
      type: 'object', additionalProperties: false,
      required: ['registration', 'billPayment', 'scanToPay', 'cancellation', 'patientInfo'],
      properties: { registration: share, billPayment: share, scanToPay: share, cancellation: share, patientInfo: share },
    },
    paymentServer: {
      type: 'object', additionalProperties: false,
      properties: {
        latencyMs: count(60_000), errorRate: share,
        outage: { type: 'object', additionalProperties: false, required: ['atSecond', 'forSeconds'], properties: { atSecond: { type: 'number', minimum: 0 }, forSeconds: { type: 'number', minimum: 0 } } },
        testOnlyDoubleCharge: count(1000),
      },
    },
  },
};

const validate = new Ajv({ strict: true, allErrors: true }).compile(schema);

// A scenario by file path, or by name from sim/scenarios/.
export function loadScenario(nameOrPath: string): Scenario {
  const file = fs.existsSync(nameOrPath) ? nameOrPath : path.join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no scenario ${nameOrPath} (looked for ${file}); scenarios: ${listScenarios().join(', ')}`);
  const data = YAML.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new Error(`scenario ${file} is not valid:\n  ${problems.join('\n  ')}`);
  }
  const s = data as unknown as Scenario & { seed?: number; paymentServer?: Partial<Scenario['paymentServer']> };
  return { ...s, seed: s.seed ?? 1, paymentServer: { ...s.paymentServer, latencyMs: s.paymentServer?.latencyMs ?? 0, errorRate: s.paymentServer?.errorRate ?? 0 } };
}

export function listScenarios(): string[] {
  return fs.readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}
