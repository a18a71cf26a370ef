// The store's keyspace is one table: every prefix is declared once, in
// runtime/inner/store/keyspace.ts, and retention, the query side and the code that
// writes records all take their prefixes from it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { idOf, key, KEYSPACE, prefixOf } from '../../runtime/inner/store/keyspace.js';
import { PRUNE_RULES } from '../../runtime/inner/retention/kinds.js';
import { KINDS } from '../../runtime/inner/management/kinds.js';

const PROJECT_DIR = fileURLToPath(new URL('../../..', import.meta.url));
const spaces = Object.entries(KEYSPACE);

test('every prefix is distinct, ends with !, and none begins another', () => {
  const prefixes = spaces.map(([, s]) => s.prefix);
  assert.is(new Set(prefixes).size, prefixes.length);
  for (const p of prefixes) {
    assert.match(p, /^[a-zA-Z]+!$/);
    for (const q of prefixes) if (p !== q) assert.not.ok(q.startsWith(p), `${q} begins with ${p}`);
  }
});

test('keys are the prefix and parts joined by !, and the id comes back out', () => {
  assert.is(key('order', 'P1'), 'order!P1');
  assert.is(key('visitNo', 'INT', '2026-11-26', 'morning', '000004'), 'visitNo!INT!2026-11-26!morning!000004');
  assert.is(prefixOf('billsOf', 'P-42'), 'billsOf!P-42!');
  assert.is(prefixOf('pool'), 'pool!');
  assert.is(idOf('journal', key('journal', 'P1')), 'P1');
  assert.throws(() => idOf('journal', 'order!P1'));
});

test('retention prunes exactly the spaces whose class is record', () => {
  const records = spaces.filter(([, s]) => s.retention === 'record').map(([, s]) => s.prefix).sort();
  assert.equal(PRUNE_RULES.map((r) => r.prefix).sort(), records);
});

test('each query kind reads the space that names it', () => {
  for (const kind of Object.values(KINDS)) {
    const named = spaces.filter(([, s]) => 'query' in s && s.query === kind.name).map(([, s]) => s.prefix);
    assert.equal(named, [kind.prefix], kind.name);
  }
});

// Code (not comments) under runtime/ and sim/ spells no prefix but the table.
test('no prefix is written out anywhere in runtime/ or sim/ but the keyspace table', () => {
  const prefixes = spaces.map(([, s]) => s.prefix);
  const spelled = new RegExp(`['\`"](${prefixes.map((p) => p.replace('!', '\\!')).join('|')})`);
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !full.endsWith(path.join('store', 'keyspace.ts'))) {
        fs.readFileSync(full, 'utf8').split('\n').forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '');
          if (spelled.test(code)) offenders.push(`${path.relative(PROJECT_DIR, full)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  walk(path.join(PROJECT_DIR, 'runtime'));
  walk(path.join(PROJECT_DIR, 'sim'));
  assert.equal(offenders, []);
});

test.run();
