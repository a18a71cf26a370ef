// The JSON Schemas that messages.yaml gives for message bodies. The gap compiles them
// with createBodyAjv() (the same options the loader checks them with), and the loader
// refuses a schema that would let an unknown field, an unbounded string or an
// unbounded list through (unknown fields are rejected).
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { RULE_BOUNDS } from './defaults.js';
import { pointerSegments, type Segment } from './yaml-source.js';

// Fully strict (unknown keywords, types, tuples, required): a field required only in
// some cases is written `then: {properties: {f: {$ref: '#/properties/f'}}, required: [f]}`.
// allErrors is off: the gap validates untrusted input and stops at the first error.
export function createBodyAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: false });
  addFormats.default(ajv);
  return ajv;
}

export interface SchemaIssue { path: Segment[]; message: string }

// Keywords whose subschemas describe a *different* value (a property, an item): each
// of those must say what it is and be closed or bounded.
const VALUE_MAPS = ['properties', 'patternProperties', '$defs', 'definitions'] as const;
const VALUE_ONE = ['items', 'additionalItems', 'contains', 'propertyNames', 'unevaluatedItems'] as const;
// Keywords whose subschemas add conditions to the *same* value: an `if` with
// `additionalProperties: false` would change its meaning, so none is required there.
const APPLY_ONE = ['not', 'if', 'then', 'else'] as const;
const APPLY_MAPS = ['dependentSchemas'] as const;
const APPLY_LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function types(schema: Obj): string[] {
  const t = schema.type;
  return typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

export function checkBodySchema(schema: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isObj(schema) || schema.type !== 'object') {
    issues.push({ path: [], message: 'a body schema must be `type: object`' });
    return issues;
  }
  checkValue(schema, [], 0, issues);
  if (issues.length === 0) {
    try {
      createBodyAjv().compile(schema);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      issues.push({ path: compileErrorPath(schema, message), message: `schema does not compile: ${message}` });
    }
  }
  return issues;
}

// Where ajv's complaint is: it names a place (`at "#/properties/x"`) or an unknown
// keyword, which is looked for in the schema.
function compileErrorPath(schema: Obj, message: string): Segment[] {
  const at = /at "#(\/[^"]*)"/.exec(message);
  if (at) return pointerSegments(at[1]!);
  const keyword = /unknown keyword: "([^"]+)"/.exec(message)?.[1];
  return keyword ? (findKey(schema, keyword, [], 0) ?? []) : [];
}

function findKey(value: unknown, key: string, path: Segment[], depth: number): Segment[] | null {
  if (value === null || typeof value !== 'object' || depth > RULE_BOUNDS.schemaDepthMax * 2) return null;
  if (!Array.isArray(value) && Object.hasOwn(value, key)) return [...path, key];
  for (const [k, v] of Object.entries(value)) {
    const hit = findKey(v, key, [...path, Array.isArray(value) ? Number(k) : k], depth + 1);
    if (hit) return hit;
  }
  return null;
}

function checkValue(schema: unknown, path: Segment[], depth: number, issues: SchemaIssue[]): void {
  if (schema === false) return; // "nothing allowed here" is as closed as it gets
  if (!isObj(schema)) {
    issues.push({ path, message: 'must be a schema object that names a type (`true` allows anything)' });
    return;
  }
  if (!('type' in schema) && !('const' in schema) && !('enum' in schema) && !('$ref' in schema)) {
    issues.push({ path, message: 'must say what the value is: `type`, `const`, `enum` or `$ref`' });
  }
  const t = types(schema);
  const fixed = 'const' in schema || 'enum' in schema;
  if (t.includes('object') && schema.additionalProperties !== false) {
    const where = 'additionalProperties' in schema ? [...path, 'additionalProperties'] : path;
    issues.push({ path: where, message: 'an object schema must have `additionalProperties: false` so that unknown fields are rejected' });
  }
  if (t.includes('string') && !fixed && typeof schema.maxLength !== 'number') {
    issues.push({ path, message: 'a string schema must have `maxLength`' });
  }
  if (t.includes('array') && typeof schema.maxItems !== 'number') {
    issues.push({ path, message: 'an array schema must have `maxItems`' });
  }
  descend(schema, path, depth, issues);
}

function checkApplied(schema: unknown, path: Segment[], depth: number, issues: SchemaIssue[]): void {
  if (isObj(schema)) descend(schema, path, depth, issues);
}

function descend(schema: Obj, path: Segment[], depth: number, issues: SchemaIssue[]): void {
  if (depth >= RULE_BOUNDS.schemaDepthMax) {
    issues.push({ path, message: `schema is nested deeper than ${RULE_BOUNDS.schemaDepthMax} levels` });
    return;
  }
  const next = depth + 1;
  for (const kw of VALUE_MAPS) {
    const map = schema[kw];
    if (isObj(map)) for (const [k, sub] of Object.entries(map)) checkValue(sub, [...path, kw, k], next, issues);
  }
  for (const kw of VALUE_ONE) {
    const sub = schema[kw];
    if (Array.isArray(sub)) sub.forEach((s, i) => checkValue(s, [...path, kw, i], next, issues));
    else if (sub !== undefined) checkValue(sub, [...path, kw], next, issues);
  }
  for (const kw of APPLY_MAPS) {
    const map = schema[kw];
    if (isObj(map)) for (const [k, sub] of Object.entries(map)) checkApplied(sub, [...path, kw, k], next, issues);
  }
  for (const kw of APPLY_ONE) if (schema[kw] !== undefined) checkApplied(schema[kw], [...path, kw], next, issues);
  for (const kw of APPLY_LIST) {
    const list = schema[kw];
    if (Array.isArray(list)) list.forEach((s, i) => (kw === 'prefixItems' ? checkValue : checkApplied)(s, [...path, kw, i], next, issues));
  }
}
