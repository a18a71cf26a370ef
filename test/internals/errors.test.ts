// docs/errors.md and the catalogue in runtime/common/errors.ts stay in step: every code of
// every area is documented in its area's table with its HTTP status, and the doc names no
// code the catalogue lacks. The notification endpoint's codes are also those of the
// contract (docs/payment-server.openapi.yaml).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { ERRORS, FerryError, errorEntry, httpStatus, type ErrorArea, type ErrorCode } from '../../runtime/common/errors.js';
import { StoreError, type StoreErrorCode } from '../../runtime/inner/store/errors.js';
import { ReconcileError, type ReconcileErrorCode } from '../../runtime/inner/reconcile/errors.js';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs');
const AREAS: readonly ErrorArea[] = ['device', 'store', 'reconcile', 'management', 'notify', 'payment-server'];

interface Row { area: ErrorArea; code: string; status: number | undefined; cells: string[] }

// Rows of the tables under each "## … (area `X`)" heading: | [status |] `CODE` | when | fix |
function documentedRows(): Row[] {
  const rows: Row[] = [];
  let area: ErrorArea | undefined;
  for (const line of fs.readFileSync(path.join(DOCS, 'errors.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) {
      const named = /\(area `([a-z-]+)`\)/.exec(line)?.[1];
      assert.ok(named === undefined || (AREAS as readonly string[]).includes(named), `${named} is an area`);
      area = named as ErrorArea | undefined;
      continue;
    }
    const m = /^\|\s*(?:([0-9]{3})\s*\|\s*)?`([A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    assert.ok(area, `${m[2]} is documented under an area's heading`);
    rows.push({ area: area!, code: m[2]!, status: m[1] === undefined ? undefined : Number(m[1]), cells: m[3]!.split('|').map((c) => c.trim()) });
  }
  return rows;
}

const entries = Object.entries(ERRORS).map(([key, e]) => ({ key, area: e.area as ErrorArea, code: e.code as string, status: 'status' in e ? (e.status as number) : undefined, message: e.message as string }));
const keyOf = (r: { area: string; code: string }) => `${r.area}.${r.code}`;

test('a catalogue key names its own area and wire code, so no key means two things', () => {
  for (const e of entries) {
    assert.is(e.key, keyOf(e));
    assert.ok((AREAS as readonly string[]).includes(e.area), `${e.key}: a known area`);
    assert.match(e.code, /^[A-Z][A-Z_]*$/, `${e.key}: an upper-case code`);
    assert.ok(e.message.length > 5, `${e.key}: a message`);
  }
});

test('the areas answered over HTTP give every code a status, the others none', () => {
  for (const e of entries) {
    if (e.area === 'device' || e.area === 'store') assert.is(e.status, undefined, `${e.key} has no HTTP status`);
    else assert.ok(Number.isInteger(e.status) && e.status! >= 400 && e.status! <= 599, `${e.key} has an error status`);
  }
});

test('every code in the catalogue has a row in its area of docs/errors.md, with its status', () => {
  const documented = new Map(documentedRows().map((r) => [keyOf(r), r.status]));
  const missing = entries.filter((e) => !documented.has(e.key)).map((e) => e.key);
  assert.equal(missing, []);
  const wrongStatus = entries.filter((e) => documented.get(e.key) !== e.status).map((e) => `${e.key}: doc ${documented.get(e.key)}, catalogue ${e.status}`);
  assert.equal(wrongStatus, []);
});

test('docs/errors.md documents no code that is not in its area of the catalogue, and each once', () => {
  const rows = documentedRows();
  const extra = rows.filter((r) => !(keyOf(r) in ERRORS)).map(keyOf);
  assert.equal(extra, []);
  const seen = new Set<string>();
  for (const r of rows) {
    assert.not.ok(seen.has(keyOf(r)), `${keyOf(r)} is documented once`);
    seen.add(keyOf(r));
  }
});

test('every documented code says when it happens and how to fix it', () => {
  for (const r of documentedRows()) {
    assert.is(r.cells.length, 2, `${keyOf(r)} has two cells after the code`);
    assert.ok(r.cells[0]!.length > 10, `${keyOf(r)}: when it happens`);
    assert.ok(r.cells[1]!.length > 10, `${keyOf(r)}: how to fix it`);
  }
});

test("the notification endpoint's codes and statuses are the contract's, no more and no fewer", () => {
  const contract = parse(fs.readFileSync(path.join(DOCS, 'payment-server.openapi.yaml'), 'utf8')) as {
    webhooks: { notification: { post: { responses: Record<string, { 'x-ferry-error-codes'?: string[] }> } } };
  };
  const inContract: string[] = [];
  for (const [status, response] of Object.entries(contract.webhooks.notification.post.responses)) {
    for (const code of response['x-ferry-error-codes'] ?? []) inContract.push(`${code} ${status}`);
  }
  const inCatalogue = entries.filter((e) => e.area === 'notify').map((e) => `${e.code} ${e.status}`);
  assert.equal(inCatalogue.sort(), inContract.sort());
});

test('a FerryError carries its device code, the catalogue sentence by default, and a path', () => {
  for (const e of entries.filter((x) => x.area === 'device')) {
    const err = new FerryError(e.code as ErrorCode);
    assert.is(err.code, e.code);
    assert.is(err.message, e.message);
    assert.is(err.path, undefined);
  }
  const err = new FerryError('SCHEMA', '/body/amount must be integer.', '/body/amount');
  assert.is(err.path, '/body/amount');
  assert.instance(err, Error);
});

test("the store's and reconciliation's errors carry their code and the catalogue sentence", () => {
  for (const e of entries.filter((x) => x.area === 'store')) {
    const err = new StoreError(e.code as StoreErrorCode);
    assert.is(err.code, e.code);
    assert.is(err.message, e.message);
  }
  for (const e of entries.filter((x) => x.area === 'reconcile')) {
    const err = new ReconcileError(e.code as ReconcileErrorCode);
    assert.is(err.code, e.code);
    assert.is(err.message, e.message);
  }
});

test('one wire code in two areas is two entries, each with its own status and meaning', () => {
  assert.is(errorEntry('device', 'TOO_LARGE').status, undefined);
  assert.is(httpStatus('notify', 'TOO_LARGE'), 413);
  assert.is(httpStatus('reconcile', 'TOO_LARGE'), 500);
  assert.is.not(errorEntry('device', 'CONFLICT').message, errorEntry('notify', 'CONFLICT').message);
  // A code asked of an area that lacks it is a programmer error, not a silent default.
  assert.throws(() => httpStatus('notify', 'SCHEMA'), /assertion failed/);
});

test.run();
