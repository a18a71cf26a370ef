// docs/errors.md and the catalogue in runtime/common/errors.ts stay in step: every
// code a device can see is documented, and the doc names no code that does not exist.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_CODES, FerryError, type ErrorCode } from '../../runtime/common/errors.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/errors.md');

// Rows of the table: | `CODE` | when | fix |
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of fs.readFileSync(DOC, 'utf8').split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    assert.not.ok(rows.has(m[1]!), `${m[1]} is documented once`);
    rows.set(m[1]!, m[2]!.split('|').map((cell) => cell.trim()));
  }
  return rows;
}

test('every code in the catalogue has a row in docs/errors.md', () => {
  const documented = documentedRows();
  const missing = Object.keys(ERROR_CODES).filter((code) => !documented.has(code));
  assert.equal(missing, []);
});

test('docs/errors.md documents no code that is not in the catalogue', () => {
  const extra = [...documentedRows().keys()].filter((code) => !(code in ERROR_CODES));
  assert.equal(extra, []);
});

test('every documented code says when it happens and how to fix it', () => {
  for (const [code, cells] of documentedRows()) {
    assert.is(cells.length, 2, `${code} has two cells after the code`);
    assert.ok(cells[0]!.length > 10, `${code}: when it happens`);
    assert.ok(cells[1]!.length > 10, `${code}: how to fix it`);
  }
});

test('a FerryError carries its code, the catalogue sentence by default, and a path', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const err = new FerryError(code);
    assert.is(err.code, code);
    assert.is(err.message, ERROR_CODES[code]);
    assert.is(err.path, undefined);
  }
  const err = new FerryError('SCHEMA', '/body/amount must be integer.', '/body/amount');
  assert.is(err.path, '/body/amount');
  assert.instance(err, Error);
});

test.run();
