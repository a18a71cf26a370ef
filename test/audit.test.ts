// The hash-chained audit log (invariant 6 of docs/design.md) in a real store (LevelDB, or
// PostgreSQL in the second pass): entries chain,
// survive a reopen, and `ferry audit verify` names the first edited, deleted or moved
// entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { canonicalJson } from '../runtime/common/canonical-json.js';
import { silentLog, storeFixture } from './helpers/store.js';
import { TEST_STORE, openRawStore, openTestStore, storeRulesArgs, verifyTestAudit, type RawStore } from './helpers/store-backend.js';
import { command as auditVerify } from '../runtime/cli/commands/audit-verify.js';
import { auditKey, GENESIS_PREV, StoreError, type AuditEntry } from '../runtime/inner/store/index.js';

const log = silentLog;
const { tempDir, openStore } = storeFixture(test, 'audit');

// A data directory whose audit log holds `count` refusals, closed again.
async function dirWithEntries(count: number): Promise<string> {
  const dir = await tempDir();
  const store = await openTestStore(dir, log);
  for (let i = 1; i <= count; i++) {
    await store.audit({ kind: 'gap.refused', device: 'kiosk-01', type: 'payment.request', code: 'SCHEMA', id: `r${i}` });
  }
  await store.close();
  return dir;
}

// Edits the raw store the way someone with disk (or database) access would.
async function tamper(dir: string, edit: (db: RawStore) => Promise<void>): Promise<void> {
  const db = await openRawStore(dir);
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

async function readEntry(db: RawStore, seq: number): Promise<AuditEntry> {
  return JSON.parse((await db.get(auditKey(seq)))!) as AuditEntry;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function captureStdout(fn: () => Promise<number>): Promise<{ status: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    return { status: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

test('audit entries chain from seq 1, each hashing the previous hash and its own content', async () => {
  const store = await openStore(await tempDir());
  const first = await store.audit({ kind: 'gap.refused', device: 'kiosk-01', code: 'SCHEMA', id: 'r1' });
  const second = await store.audit({ kind: 'gap.refused', device: 'kiosk-02', code: 'CARD_DATA', id: 'r2' });
  assert.is(first.seq, 1);
  assert.is(first.prev, GENESIS_PREV);
  assert.is(first.hash, sha256(GENESIS_PREV + canonicalJson({ seq: 1, ts: first.ts, prev: GENESIS_PREV, event: first.event })));
  assert.is(second.seq, 2);
  assert.is(second.prev, first.hash);
  assert.equal(await store.get(auditKey(2)), second);
});

test('entries audited by concurrent transactions form one unbroken chain', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  const entries = await Promise.all(Array.from({ length: 200 }, (_, i) => store.transact((tx) => {
    tx.put(`idem!r${i}`, { answered: true });
    return tx.audit({ kind: 'gap.accepted', id: `r${i}` });
  })));
  assert.equal(entries.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
  await store.close();
  assert.equal(await verifyTestAudit(dir), { ok: true, entries: 200 });
});

test('the audit chain verifies after writes and a reopen', async () => {
  const dir = await dirWithEntries(3);
  const store = await openStore(dir);
  const fourth = await store.audit({ kind: 'store.reopened' });
  assert.is(fourth.seq, 4);
  await store.close();
  assert.equal(await verifyTestAudit(dir), { ok: true, entries: 4 });
});

test('a failed transaction does not advance the audit chain', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  await store.audit({ kind: 'first' });
  const err = await store.transact((tx) => {
    tx.audit({ kind: 'never-written' });
    tx.audit({ kind: 'never-written-either' });
    throw new Error('refused');
  }).catch((e: Error) => e);
  assert.instance(err, Error);
  const next = await store.audit({ kind: 'second' });
  assert.is(next.seq, 2);
  assert.is(await store.get(auditKey(3)), undefined);
  await store.close();
  assert.equal(await verifyTestAudit(dir), { ok: true, entries: 2 });
});

test('an empty audit log verifies with zero entries', async () => {
  const dir = await tempDir();
  await (await openTestStore(dir, log)).close();
  assert.equal(await verifyTestAudit(dir), { ok: true, entries: 0 });
});

test('an edited entry is detected at its own seq', async () => {
  const dir = await dirWithEntries(5);
  await tamper(dir, async (db) => {
    const entry = await readEntry(db, 3);
    entry.event.code = 'NONE';
    await db.put(auditKey(3), JSON.stringify(entry));
  });
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.ok, false);
  assert.is(verdict.entries, 2);
  assert.is(verdict.firstBroken?.seq, 3);
  assert.is(verdict.firstBroken?.key, auditKey(3));
  assert.match(verdict.firstBroken!.reason, /hash mismatch/);
});

test('an edited entry whose hash was recomputed is detected at the entry after it', async () => {
  const dir = await dirWithEntries(5);
  await tamper(dir, async (db) => {
    const e = await readEntry(db, 3);
    e.event.code = 'NONE';
    e.hash = sha256(e.prev + canonicalJson({ seq: e.seq, ts: e.ts, prev: e.prev, event: e.event }));
    await db.put(auditKey(3), JSON.stringify(e));
  });
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.firstBroken?.seq, 4);
  assert.match(verdict.firstBroken!.reason, /prev does not match/);
});

test('a deleted entry is detected at the entry after it', async () => {
  const dir = await dirWithEntries(5);
  await tamper(dir, (db) => db.del(auditKey(3)));
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.ok, false);
  assert.is(verdict.firstBroken?.seq, 4);
  assert.match(verdict.firstBroken!.reason, /seq gap/);
});

test('two swapped entries are detected at the first of them', async () => {
  const dir = await dirWithEntries(5);
  await tamper(dir, async (db) => {
    const [two, three] = [await db.get(auditKey(2)), await db.get(auditKey(3))];
    await db.batch([{ type: 'put', key: auditKey(2), value: three! }, { type: 'put', key: auditKey(3), value: two! }]);
  });
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.firstBroken?.seq, 2);
  assert.match(verdict.firstBroken!.reason, /reordered/);
});

test('two entries swapped with their seqs rewritten are detected at the first of them', async () => {
  const dir = await dirWithEntries(5);
  await tamper(dir, async (db) => {
    const [two, three] = [await readEntry(db, 2), await readEntry(db, 3)];
    [two.seq, three.seq] = [3, 2];
    await db.batch([{ type: 'put', key: auditKey(2), value: JSON.stringify(three) }, { type: 'put', key: auditKey(3), value: JSON.stringify(two) }]);
  });
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.firstBroken?.seq, 2);
});

test('an entry that is not JSON is reported, not thrown', async () => {
  const dir = await dirWithEntries(2);
  await tamper(dir, (db) => db.put(auditKey(2), 'not json'));
  const verdict = await verifyTestAudit(dir);
  assert.is(verdict.firstBroken?.seq, 2);
  assert.match(verdict.firstBroken!.reason, /malformed/);
});

test('the store refuses to open when its last audit entry was edited', async () => {
  const dir = await dirWithEntries(2);
  await tamper(dir, async (db) => {
    const entry = await readEntry(db, 2);
    entry.event.id = 'forged';
    await db.put(auditKey(2), JSON.stringify(entry));
  });
  const err = await openTestStore(dir, log).catch((e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is((err as StoreError).code, 'AUDIT_CORRUPT');
});

test('verify refuses a LevelDB store the running gateway holds and says to stop it; on PostgreSQL it reads the database', async () => {
  const dir = await tempDir();
  const running = await openStore(dir);
  await running.audit({ kind: 'test.running' });
  if (TEST_STORE === 'postgres') {
    assert.equal(await verifyTestAudit(dir), { ok: true, entries: 1 });
    return;
  }
  const err = await verifyTestAudit(dir).catch((e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is((err as StoreError).code, 'STORE_LOCKED');
  assert.match((err as StoreError).message, /stop the gateway/);
});

test('verify on a directory without a store fails instead of creating one', async () => {
  const dir = await tempDir();
  const err = await verifyTestAudit(join(dir, 'nothing-here')).catch((e: StoreError) => e);
  assert.is((err as StoreError).code, 'STORE_MISSING');
});

test('`ferry audit verify` prints the entry count and exits 0 on an intact chain', async () => {
  const dir = await dirWithEntries(3);
  const rulesArgs = await storeRulesArgs(dir);
  const { status, out } = await captureStdout(() => auditVerify.run(['--data', dir, ...rulesArgs]));
  assert.is(status, 0);
  assert.is(out, 'audit chain intact: 3 entries\n');
});

test('`ferry audit verify` names the broken entry and exits 1', async () => {
  const dir = await dirWithEntries(4);
  await tamper(dir, (db) => db.del(auditKey(2)));
  const rulesArgs = await storeRulesArgs(dir);
  const { status, out } = await captureStdout(() => auditVerify.run(['--data', dir, ...rulesArgs]));
  assert.is(status, 1);
  assert.is(out, `audit chain broken at entry 3 (${auditKey(3)}): seq gap: expected seq 2, found 3 (entry deleted)\n`);
});

test('`ferry audit verify --help` prints usage and a wrong option exits 2', async () => {
  const help = await captureStdout(() => auditVerify.run(['--help']));
  assert.is(help.status, 0);
  assert.match(help.out, /Usage: ferry audit verify/);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.is(await auditVerify.run(['--dta', 'x']), 2);
  } finally {
    process.stderr.write = stderrWrite;
  }
});

test.run();
