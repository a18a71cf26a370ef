// `ferry audit verify` reads the chain in large batches and checks most entries from
// their stored text: the chain's hash is unchanged, entries written by earlier versions
// (event fields in their own order) still verify, and an edit is found either way.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import pino from 'pino';
import { Store, verifyAudit } from '../../runtime/inner/store/store.js';
import { hashEntry, type AuditEntry } from '../../runtime/inner/store/audit.js';
import { auditKey } from '../../runtime/inner/store/keys.js';
import { openLevel } from '../../runtime/inner/store/open-level.js';
import { VERIFY_BATCH_ENTRIES } from '../../runtime/inner/store/verify.js';
import { tempDir } from '../helpers/gateway.js';

const log = pino({ level: 'silent' });
const ENTRIES = VERIFY_BATCH_ENTRIES + 50; // more than one batch

async function chain(): Promise<string> {
  const dir = tempDir('verify');
  const store = await Store.open(dir, log);
  for (let i = 0; i < ENTRIES; i += 50) {
    await store.transact((tx) => {
      for (let j = i; j < i + 50; j++) tx.audit({ kind: 'test.event', zeta: j, alpha: { b: [1, 'two'], a: null }, orderId: `P${j}` });
    });
  }
  await store.close();
  return dir;
}

async function rewrite(dir: string, seq: number, text: (stored: string, entry: AuditEntry) => string): Promise<void> {
  const db = await openLevel(dir, false);
  try {
    const stored = await db.get(auditKey(seq), { valueEncoding: 'utf8' }) as string;
    await db.put(auditKey(seq), text(stored, JSON.parse(stored) as AuditEntry), { valueEncoding: 'utf8' });
  } finally {
    await db.close();
  }
}

test('entries keep the same hash chain, stored with their event in canonical form, and verify across batches', async () => {
  const dir = await chain();
  try {
    const db = await openLevel(dir, false);
    const stored = await db.get(auditKey(7), { valueEncoding: 'utf8' }) as string;
    const entry = JSON.parse(stored) as AuditEntry;
    await db.close();
    assert.is(entry.hash, hashEntry(entry.seq, entry.ts, entry.prev, entry.event));
    assert.ok(stored.endsWith('"event":{"alpha":{"a":null,"b":[1,"two"]},"kind":"test.event","orderId":"P6","zeta":6}}'), stored);
    assert.equal(await verifyAudit(dir), { ok: true, entries: ENTRIES });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an entry stored the way earlier versions stored it (event fields in their own order) still verifies', async () => {
  const dir = await chain();
  try {
    await rewrite(dir, 9, (_, e) => JSON.stringify({ seq: e.seq, ts: e.ts, prev: e.prev, hash: e.hash, event: { zeta: e.event.zeta, kind: e.event.kind, orderId: e.event.orderId, alpha: e.event.alpha } }));
    assert.equal(await verifyAudit(dir), { ok: true, entries: ENTRIES });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an edited event is found, in the canonical layout and in any other', async () => {
  for (const edit of [
    (stored: string) => stored.replace('"zeta":11}', '"zeta":12}'),
    (_: string, e: AuditEntry) => JSON.stringify({ ...e, event: { ...e.event, zeta: 12 } }),
    (stored: string) => stored.replace('"ts":"', '"ts":"\\u0032'),
  ]) {
    const dir = await chain();
    try {
      await rewrite(dir, 12, edit);
      const verdict = await verifyAudit(dir);
      assert.is(verdict.ok, false);
      assert.is(verdict.entries, 11);
      assert.is(verdict.firstBroken?.seq, 12);
      assert.match(verdict.firstBroken!.reason, /hash mismatch/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test.run();
