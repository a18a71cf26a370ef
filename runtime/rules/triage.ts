// triage.yaml: where a patient's message goes when it names neither a booking nor a
// department (keywords and patterns to departments and priorities, a default), and how
// long a department's workstations get before an unacknowledged message is sent again.
// Checked with file:line like every rule file; the department codes it names are
// checked against departments.yaml (one small function, checkTriageDepartments).
import { Ajv } from 'ajv';
import { deepFreeze } from './defaults.js';
import { DEPT } from './file-schemas.js';
import { problemAt, schemaProblem, type YamlSource } from './yaml-source.js';
import type { RuleProblem } from './types.js';

// Named in the order a workstation should care about them.
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const TRIAGE_FILE = 'triage.yaml';

export const TRIAGE_BOUNDS = deepFreeze({
  rulesMax: 200,
  // Per rule. A pattern runs against at most the symptoms text's maximum (messages.yaml),
  // and is kept short so that an operator's regex cannot be made to backtrack for long.
  keywordsMax: 100,
  keywordCharsMax: 64,
  patternsMax: 20,
  patternCharsMax: 200,
  // Redelivery of an unacknowledged message: never more often than 5 times a second,
  // never less often than once a day.
  redeliverAfterMsMin: 200,
  redeliverAfterMsMax: 86_400_000,
});

export const TRIAGE_DEFAULTS = deepFreeze({
  priority: 'normal' as Priority,
  // A doctor's workstation that shows a message and is not acknowledged within a minute
  // is taken to have missed it (crashed, closed); another try costs one small message.
  redeliverAfterMs: 60_000,
});

export interface TriageRule {
  name: string;
  dept: string;
  priority: Priority;
  keywords: readonly string[]; // lower-case, as written
  patterns: readonly RegExp[]; // case-insensitive, Unicode
}

export interface TriageRules {
  rules: readonly TriageRule[]; // first match wins, in file order
  default: { dept: string; priority: Priority };
  dispatch: { redeliverAfterMs: number };
}

const NAME = '^[a-z][a-z0-9_-]{0,31}$';
const priority = { type: 'string', enum: [...PRIORITIES] };

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['default'],
  properties: {
    dispatch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        redeliverAfterMs: { type: 'integer', minimum: TRIAGE_BOUNDS.redeliverAfterMsMin, maximum: TRIAGE_BOUNDS.redeliverAfterMsMax },
      },
    },
    default: {
      type: 'object',
      additionalProperties: false,
      required: ['dept'],
      properties: { dept: { type: 'string', pattern: DEPT }, priority },
    },
    rules: {
      type: 'array',
      maxItems: TRIAGE_BOUNDS.rulesMax,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'dept'],
        properties: {
          name: { type: 'string', pattern: NAME },
          dept: { type: 'string', pattern: DEPT },
          priority,
          keywords: {
            type: 'array', maxItems: TRIAGE_BOUNDS.keywordsMax,
            items: { type: 'string', minLength: 1, maxLength: TRIAGE_BOUNDS.keywordCharsMax },
          },
          patterns: {
            type: 'array', maxItems: TRIAGE_BOUNDS.patternsMax,
            items: { type: 'string', minLength: 1, maxLength: TRIAGE_BOUNDS.patternCharsMax },
          },
        },
      },
    },
  },
};

interface RawRule { name: string; dept: string; priority?: Priority; keywords?: string[]; patterns?: string[] }
interface RawTriage {
  dispatch?: { redeliverAfterMs?: number };
  default: { dept: string; priority?: Priority };
  rules?: RawRule[];
}

let validate: ReturnType<Ajv['compile']> | undefined;

export function buildTriage(src: YamlSource, problems: RuleProblem[]): TriageRules | null {
  validate ??= new Ajv({ strict: true, allErrors: true }).compile(schema);
  if (!validate(src.data)) {
    for (const err of validate.errors ?? []) problems.push(schemaProblem(src, err));
    return null;
  }
  const raw = src.data as RawTriage;
  const seen = new Map<string, number>();
  const rules = (raw.rules ?? []).map((r, i): TriageRule => {
    const at = (path: (string | number)[], message: string) => problems.push(problemAt(src, ['rules', i, ...path], message));
    if (seen.has(r.name)) at(['name'], `duplicate rule name "${r.name}" (first at rules[${seen.get(r.name)}])`);
    else seen.set(r.name, i);
    if ((r.keywords ?? []).length === 0 && (r.patterns ?? []).length === 0) at([], 'a rule needs `keywords` or `patterns`, or it never matches');
    const patterns = (r.patterns ?? []).flatMap((p, j) => {
      try {
        return [new RegExp(p, 'iu')];
      } catch (err) {
        at(['patterns', j], `not a valid regular expression: ${(err as Error).message}`);
        return [];
      }
    });
    return { name: r.name, dept: r.dept, priority: r.priority ?? TRIAGE_DEFAULTS.priority, keywords: (r.keywords ?? []).map(normalise), patterns };
  });
  return deepFreeze({
    rules,
    default: { dept: raw.default.dept, priority: raw.default.priority ?? TRIAGE_DEFAULTS.priority },
    dispatch: { redeliverAfterMs: raw.dispatch?.redeliverAfterMs ?? TRIAGE_DEFAULTS.redeliverAfterMs },
  }) as TriageRules;
}

// Every department triage.yaml names must be one of departments.yaml: a message routed
// to a code no workstation can ever be registered for would wait forever.
export function checkTriageDepartments(src: YamlSource, triage: TriageRules, known: ReadonlySet<string>, problems: RuleProblem[]): void {
  const list = [...known].sort().join(', ');
  if (!known.has(triage.default.dept)) problems.push(problemAt(src, ['default', 'dept'], `department "${triage.default.dept}" is not in departments.yaml (${list})`));
  triage.rules.forEach((r, i) => {
    if (!known.has(r.dept)) problems.push(problemAt(src, ['rules', i, 'dept'], `department "${r.dept}" is not in departments.yaml (${list})`));
  });
}

// Case and width folded (NFKC: full-width letters and digits become ASCII), so that
// keywords match however a kiosk's keyboard wrote them.
export function normalise(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}
