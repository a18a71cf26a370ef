// The payment-server contract (docs/payment-server.openapi.yaml) as a test sees it: the
// parsed document, its operations by method and concrete path, and its schemas compiled
// with Ajv's JSON Schema 2020-12 dialect (the one OpenAPI 3.1 uses). The whole document
// is added as one schema with an $id, so `#/components/schemas/X` resolves as written.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

export const CONTRACT_PATH = fileURLToPath(new URL('../../../docs/payment-server.openapi.yaml', import.meta.url));
const CONTRACT_ID = 'https://ferry.invalid/payment-server.openapi.yaml';
export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface Operation {
  method: string; // upper case
  template: string; // /v1/payments/{orderId}
  pointer: string; // JSON pointer of the operation object in the document
  op: Record<string, any>;
  webhook: boolean;
}

export interface Contract {
  doc: Record<string, any>;
  operations: Operation[];
  find(method: string, path: string): Operation | undefined;
  // The response object for a status: the exact code, else its range (4XX), else default.
  response(op: Operation, status: number): { key: string; value: Record<string, any> } | undefined;
  // Errors of a value against a schema object of the document (often just a $ref).
  check(schema: Record<string, any>, value: unknown): string[];
  // The schema of a JSON body (request or response) of an operation, if declared.
  bodySchema(holder: Record<string, any> | undefined): Record<string, any> | undefined;
}

export function loadContract(): Contract {
  const doc = parse(fs.readFileSync(CONTRACT_PATH, 'utf8')) as Record<string, any>;
  // strictRequired would refuse `then: {required: [authCode]}`, a property declared one level up.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats.default(ajv);
  // Extensions are annotations, not assertions, and OpenAPI allows them anywhere; the
  // document's own top-level fields are not schema keywords either.
  ajv.addVocabulary([...new Set([...collectExtensions(doc), ...Object.keys(doc)])]);
  ajv.addSchema({ ...doc, $id: CONTRACT_ID });
  const compiled = new Map<string, ValidateFunction>();

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    for (const m of METHODS) if (item[m]) operations.push({ method: m.toUpperCase(), template, pointer: `#/paths/${esc(template)}/${m}`, op: item[m], webhook: false });
  }
  for (const [name, item] of Object.entries<Record<string, any>>(doc.webhooks ?? {})) {
    for (const m of METHODS) if (item[m]) operations.push({ method: m.toUpperCase(), template: item[m]['x-ferry-path'], pointer: `#/webhooks/${esc(name)}/${m}`, op: item[m], webhook: true });
  }

  const validator = (schema: Record<string, any>): ValidateFunction => {
    const key = JSON.stringify(schema);
    let v = compiled.get(key);
    if (!v) {
      const ref = typeof schema.$ref === 'string' && Object.keys(schema).length === 1 ? schema.$ref : undefined;
      v = ref?.startsWith('#/') ? ajv.getSchema(CONTRACT_ID + ref) : ajv.compile({ $id: `${CONTRACT_ID}/inline/${compiled.size}`, ...rebase(schema) });
      if (!v) throw new Error(`schema ${ref} does not resolve`);
      compiled.set(key, v);
    }
    return v;
  };

  return {
    doc,
    operations,
    find: (method, path) => operations.find((o) => o.method === method && matches(o.template, path)),
    response(op, status) {
      const responses = op.op.responses ?? {};
      for (const key of [String(status), `${String(status)[0]}XX`, 'default']) {
        if (responses[key]) return { key, value: responses[key] };
      }
      return undefined;
    },
    check(schema, value) {
      const v = validator(schema);
      return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
    },
    bodySchema: (holder) => holder?.content?.['application/json']?.schema,
  };
}

// Every `x-` key used inside the document, so that strict mode knows them.
function collectExtensions(value: unknown, out = new Set<string>()): string[] {
  if (Array.isArray(value)) for (const v of value) collectExtensions(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('x-')) out.add(k);
      collectExtensions(v, out);
    }
  }
  return [...out];
}

// An inline schema's local refs point into the document.
function rebase(schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? CONTRACT_ID + v : rebase(v)]));
}

// A path template matches a concrete path: each {param} is one non-empty segment.
export function matches(template: string, path: string): boolean {
  const pattern = template.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/?]+');
  return new RegExp(`^${pattern}$`).test(path);
}

function esc(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

// Follows a local $ref (`#/a/b`) in the document; undefined if it does not resolve.
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: any = doc;
  for (const raw of ref.slice(2).split('/').filter((s) => s.length > 0)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}
