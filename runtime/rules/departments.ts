// departments.yaml: the departments patients can register with, the sessions of a
// day, fees per doctor level, default capacities and hold times. Checked
// with file:line like every rule file.
import { Ajv } from 'ajv';
import type { DepartmentsRule, RuleProblem } from './types.js';
import { deepFreeze } from './defaults.js';
import { DEPT } from './file-schemas.js';
import { problemAt, schemaProblem, type YamlSource } from './yaml-source.js';
import { frozenMap } from './sections.js';

const NAME = '^[a-z][a-z0-9_-]{0,31}$';
const CLOCK = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
// Generous bounds that still catch a slipped digit.
const CAPACITY_MAX = 10_000;
const FEE_FEN_MAX = 10_000_000;
const VISIT_NO_MAX = 100_000;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['sessions', 'departments'],
  properties: {
    holdTtlSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
    paymentGraceSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
    bookAheadDays: { type: 'integer', minimum: 0, maximum: 90 },
    sessions: {
      type: 'object', minProperties: 1, maxProperties: 8,
      propertyNames: { pattern: NAME },
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['start', 'end'],
        properties: { start: { type: 'string', pattern: CLOCK }, end: { type: 'string', pattern: CLOCK } },
      },
    },
    departments: {
      type: 'object', minProperties: 1, maxProperties: 500,
      propertyNames: { pattern: DEPT },
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['name', 'fees', 'capacity'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 100 },
          fees: {
            type: 'object', required: ['regular'], maxProperties: 16,
            propertyNames: { pattern: NAME },
            properties: { regular: { type: 'integer', minimum: 0, maximum: FEE_FEN_MAX } },
            additionalProperties: { type: 'integer', minimum: 0, maximum: FEE_FEN_MAX },
          },
          capacity: {
            type: 'object', maxProperties: 8, propertyNames: { pattern: NAME },
            additionalProperties: { type: 'integer', minimum: 0, maximum: CAPACITY_MAX },
          },
          gatewayNumbers: {
            type: 'object', maxProperties: 8, propertyNames: { pattern: NAME },
            additionalProperties: { type: 'integer', minimum: 1, maximum: VISIT_NO_MAX },
          },
        },
      },
    },
  },
};

let validate: ReturnType<Ajv['compile']> | undefined;

interface RawDepartments {
  holdTtlSeconds?: number;
  paymentGraceSeconds?: number;
  bookAheadDays?: number;
  sessions: Record<string, { start: string; end: string }>;
  departments: Record<string, { name: string; fees: Record<string, number>; capacity: Record<string, number>; gatewayNumbers?: Record<string, number> }>;
}

export function buildDepartments(src: YamlSource, problems: RuleProblem[]): DepartmentsRule | null {
  validate ??= new Ajv({ strict: true, allErrors: true }).compile(schema);
  const data = src.data as Record<string, unknown> | null;
  // The hospital's day is one setting for the whole gateway now; an offset left here
  // would silently disagree with it.
  if (typeof data === 'object' && data !== null && 'utcOffset' in data) {
    problems.push(problemAt(src, ['utcOffset'], 'utcOffset is no longer read here: set the hospital\'s time zone once in gateway.yaml (timeZone: Asia/Shanghai, an IANA zone) and delete this line', true));
    const { utcOffset: _moved, ...rest } = data;
    if (!validate(rest)) for (const err of validate.errors ?? []) problems.push(schemaProblem(src, err));
    return null;
  }
  if (!validate(src.data)) {
    for (const err of validate.errors ?? []) problems.push(schemaProblem(src, err));
    return null;
  }
  const raw = src.data as RawDepartments;
  const minutes = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3));
  for (const [name, s] of Object.entries(raw.sessions)) {
    if (minutes(s.end) <= minutes(s.start)) problems.push(problemAt(src, ['sessions', name, 'end'], `session ${name} ends before it starts`));
  }
  for (const [code, d] of Object.entries(raw.departments)) {
    for (const key of ['capacity', 'gatewayNumbers'] as const) {
      for (const session of Object.keys(d[key] ?? {})) {
        if (!(session in raw.sessions)) problems.push(problemAt(src, ['departments', code, key, session], `unknown session ${session}; sessions are ${Object.keys(raw.sessions).join(', ')}`, true));
      }
    }
  }
  const sessions = Object.entries(raw.sessions)
    .map(([name, s]) => ({ name, startMinute: minutes(s.start), endMinute: minutes(s.end) }))
    .sort((a, b) => a.startMinute - b.startMinute);
  const departments = frozenMap(Object.entries(raw.departments).map(([code, d]) => [code, deepFreeze({
    code, name: d.name, fees: { ...d.fees },
    capacity: Object.fromEntries(sessions.map((s) => [s.name, d.capacity[s.name] ?? 0])),
    gatewayNumbers: Object.fromEntries(sessions.map((s) => [s.name, d.gatewayNumbers?.[s.name] ?? 1])),
  })]));
  return deepFreeze({
    holdTtlSeconds: raw.holdTtlSeconds ?? 300,
    paymentGraceSeconds: raw.paymentGraceSeconds ?? 600,
    bookAheadDays: raw.bookAheadDays ?? 0,
    sessions,
    departments,
  }) as DepartmentsRule;
}
