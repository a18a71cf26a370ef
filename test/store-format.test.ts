// The store's format version (runtime/inner/store/format.ts) on real LevelDB files and a
// real gateway: a new store is stamped, a store written before formats were recorded is
// backed up and migrated and keeps its open orders, a newer format is refused, and a
// step that fails leaves the store as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { Store, StoreError } from '../runtime/inner/store/index.js';
import { CURRENT_FORMAT, FORMATS, FORMAT_KEY } from '../runtime/inner/store/format.js';
import { BACKUPS_DIR, MIGRATED_KIND, settleFormat } from '../runtime/inner/store/migrate.js';
import { LevelEngine } from '../runtime/inner/store/level-engine.js';
import { auditKey } from '../runtime/inner/store/keys.js';
import { readBackup } from '../runtime/inner/store/backup-file.js';
import { restoreBackup } from '../runtime/inner/store/restore.js';
import { KEYSPACE, key } from '../runtime/inner/store/keyspace.js';
import { indexMarkerKey } from '../runtime/inner/management/indexes.js';
import { journalKey, orderKey, ordersOfKey, type Order } from '../runtime/inner/payments/order.js';
import { openOfflineQuery } from '../runtime/cli/offline-query.js';
import { SIDE_EXIT } from '../runtime/common/side-exit.js';
import { asBackedUp, dumpStore, makePreviousFormat } from './helpers/previous-format.js';
import { EXAMPLE_RULES, PROJECT_DIR, quietLog, sampleItems, sampleTotal, startTestGateway, tempDir, waitFor } from './helpers/gateway.js';

const dirs: string[] = [];
test.after.each(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
const newDir = () => {
  const dir = tempDir('format');
  dirs.push(dir);
  return dir;
};

test('a brand-new store is stamped with the current format, its query indexes complete', async () => {
  const dir = newDir();
  const store = await Store.open(dir, quietLog);
  await store.close();
  const keys = await dumpStore(dir);
  assert.is(keys.get(FORMAT_KEY), String(CURRENT_FORMAT));
  assert.is(keys.get(indexMarkerKey('ordersOf')), 'true');
  assert.is(keys.get(indexMarkerKey('auditOf')), 'true');
  assert.not.ok(fs.existsSync(path.join(dir, BACKUPS_DIR)), 'nothing to back up');
});

test('a store written before formats were recorded, with orders open in its journal, is backed up, migrated, and a gateway on it finishes them', async () => {
  const gw = await startTestGateway();
  const dataDir = gw.dataDir;
  dirs.push(dataDir);
  const desk = await gw.device('billing-01');
  const kiosk = await gw.device('kiosk-01');
  const bill = async (n: number) => {
    const created = await desk.request('bill.create', { patientId: `P-FMT${n}`, reference: `FMT-${process.pid}-${n}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
    return (created.body as { billId: string }).billId;
  };
  const pay = async (billId: string) => (await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' })).body as { orderId: string; status: string };
  const done = await pay(await bill(0));
  assert.is(done.status, 'succeeded');
  const billIds = [await bill(1), await bill(2), await bill(3)];
  await gw.stopOuter();
  const open = await Promise.all(billIds.map(pay));
  assert.ok(open.every((o) => o.status === 'pending'), 'accepted into the journal, not sent');
  await gw.close({ keepData: true });

  await makePreviousFormat(dataDir);
  const before = await dumpStore(dataDir);
  for (const o of open) assert.ok(before.has(journalKey(o.orderId)), `${o.orderId} is in the journal`);

  // What a start killed half way through its backup left: removed, never taken for one.
  fs.mkdirSync(path.join(dataDir, BACKUPS_DIR));
  fs.writeFileSync(path.join(dataDir, BACKUPS_DIR, `.before-format-${CURRENT_FORMAT}-20261202T050000Z.ferrybak.4242.0a0b0c0d.tmp`), 'half');
  const at = new Date('2026-12-02T06:00:00.000Z');
  const store = await Store.open(dataDir, quietLog, { now: () => at });
  try {
    assert.is(await store.get(FORMAT_KEY), CURRENT_FORMAT);
    assert.is(await store.get(indexMarkerKey('ordersOf')), true);
    assert.is(await store.get(ordersOfKey('P-FMT0', done.orderId)), done.orderId, 'the index was built by the migration');
    const head = (await store.list<{ event: { kind: string; fromFormat: number; toFormat: number } }>(KEYSPACE.audit.prefix)).at(-1)![1];
    assert.equal([head.event.kind, head.event.fromFormat, head.event.toFormat], [MIGRATED_KIND, 1, CURRENT_FORMAT]);
    assert.ok((await store.verifyAudit()).ok);
  } finally {
    await store.close();
  }
  const backups = fs.readdirSync(path.join(dataDir, BACKUPS_DIR));
  assert.equal(backups, [`before-format-${CURRENT_FORMAT}-20261202T060000Z.ferrybak`]);
  const saved = new Map<string, string>();
  const { header } = await readBackup(path.join(dataDir, BACKUPS_DIR, backups[0]!), { keys: (rows) => rows.forEach(([k, v]) => saved.set(k, v)) });
  assert.is(header.storeFormat, 1);
  assert.is(header.reason, 'before-migration');
  assert.equal(saved, before, 'the backup holds the store as it was');
  // The way back to the Ferry that ran before: that backup restores the store as it was.
  const rolledBack = newDir();
  const back = await restoreBackup(path.join(dataDir, BACKUPS_DIR, backups[0]!), rolledBack, { force: false, now: () => at });
  assert.equal(asBackedUp(await dumpStore(rolledBack), before, back.header.auditHead.seq), before);

  const again = await startTestGateway({ dataDir });
  try {
    await waitFor(async () => {
      const orders = await Promise.all(open.map((o) => again.inner.store.get<Order>(orderKey(o.orderId))));
      return orders.every((o) => o?.status === 'succeeded');
    }, 30_000, 'the migrated journal to drain');
    for (const o of open) assert.is(again.sim.chargesFor(o.orderId), 1);
  } finally {
    await again.close({ keepData: true });
  }
});

test('a store of a newer format refuses to open, naming both formats and what to do, and is left as it was', async () => {
  const dir = newDir();
  await (await Store.open(dir, quietLog)).close();
  const db = new Level<string, string>(path.join(dir, 'store'), { valueEncoding: 'utf8' });
  await db.put(FORMAT_KEY, String(CURRENT_FORMAT + 1));
  await db.close();
  const before = await dumpStore(dir);
  for (const readOnly of [false, true]) {
    const err = await Store.open(dir, quietLog, { readOnly }).then(() => undefined, (e: StoreError) => e);
    assert.instance(err, StoreError);
    assert.is(err!.code, 'FORMAT_NEWER');
    assert.match(err!.message, `store format ${CURRENT_FORMAT + 1}`);
    assert.match(err!.message, `formats up to ${CURRENT_FORMAT}`);
    assert.match(err!.message, `install a Ferry that knows format ${CURRENT_FORMAT + 1}, or restore the backup taken before the upgrade`);
  }
  assert.equal(await dumpStore(dir), before);
  assert.not.ok(fs.existsSync(path.join(dir, BACKUPS_DIR)));
  // The inner side says so in one line and exits with the status no restart follows.
  const exited = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(PROJECT_DIR, 'dist/runtime/inner/main.js'), '--rules', EXAMPLE_RULES, '--data', dir, '--mqtt-port', '0', '--management-port', '0', '--log-level', 'silent'],
      { timeout: 30_000 }, (err, _stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stderr }));
  });
  assert.is(exited.code, SIDE_EXIT.storeFormat, exited.stderr);
  assert.match(exited.stderr, `ferry: the inner side could not start: the store in ${dir} is in store format ${CURRENT_FORMAT + 1}`);
  assert.equal(await dumpStore(dir), before);
});

test('a migration step that fails leaves the old format and every key as they were', async () => {
  const dir = newDir();
  const store = await Store.open(dir, quietLog);
  await store.transact((tx) => {
    tx.put(key('bill', 'B20261120-test-000001'), { billId: 'B20261120-test-000001', patientId: 'P-1' });
    tx.put(orderKey('P20261120-test-000001'), { orderId: 'P20261120-test-000001', billId: 'B20261120-test-000001' });
    tx.audit({ kind: 'payment.accepted', orderId: 'P20261120-test-000001' });
  });
  await store.close();
  // A damaged order record: the step cannot read it, and must not half-build the index.
  await makePreviousFormat(dir, (db) => db.put(orderKey('P20261120-test-000002'), '{"orderId": "P2026'));
  const before = await dumpStore(dir);
  const err = await Store.open(dir, quietLog).then(() => undefined, (e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is(err!.code, 'MIGRATION_FAILED');
  assert.match(err!.message, 'from format 1 to 2 failed, and it is left in format 1');
  assert.equal(await dumpStore(dir), before, 'no key written, none changed');
  assert.is(fs.readdirSync(path.join(dir, BACKUPS_DIR)).length, 1, 'the backup was taken first');
  // Read-only readers still read it as it is.
  const offline = await openOfflineQuery(dir, 'Asia/Shanghai');
  await offline.close();
});

// Thirty paid bills as the billing and payment modules leave them, with their audit
// entries; returns the audit head.
async function paidBills(dir: string, at: Date): Promise<{ seq: number; hash: string }> {
  const store = await Store.open(dir, quietLog, { now: () => at });
  for (let n = 1; n <= 30; n++) {
    const id = String(n).padStart(6, '0');
    await store.transact((tx) => {
      tx.put(key('bill', `B20261120-test-${id}`), { billId: `B20261120-test-${id}`, patientId: `P-${n % 4}`, status: 'paid', orderId: `P20261120-test-${id}` });
      tx.put(orderKey(`P20261120-test-${id}`), { orderId: `P20261120-test-${id}`, billId: `B20261120-test-${id}`, status: 'succeeded' });
      tx.audit({ kind: 'payment.accepted', orderId: `P20261120-test-${id}` });
    });
  }
  const head = store.auditHead;
  await store.close();
  return head;
}

async function migrateInPages(dir: string, head: { seq: number; hash: string }, at: Date): Promise<void> {
  const engine = await LevelEngine.open(dir, false);
  try {
    await settleFormat(engine, { dataDir: dir, log: quietLog, readOnly: false, now: () => at, head }, FORMATS, { oneWriteOps: 4 });
  } finally {
    await engine.close();
  }
}

test('a migration larger than one write goes in pages and ends with the same store as one in a single write', async () => {
  const at = new Date('2026-12-02T06:00:00.000Z');
  const paged = newDir();
  const head = await paidBills(paged, at);
  await makePreviousFormat(paged);
  const whole = newDir();
  fs.cpSync(paged, whole, { recursive: true });
  await migrateInPages(paged, head, at);
  await (await Store.open(whole, quietLog, { now: () => at })).close();
  const result = await dumpStore(paged);
  const single = await dumpStore(whole);
  // The same but for the store.migrated entry, which names each store's own backup.
  const migrated = auditKey(head.seq + 1);
  const without = (m: Map<string, string>) => new Map([...m].filter(([k]) => k !== migrated));
  assert.equal(without(result), without(single));
  assert.is(JSON.parse(result.get(migrated)!).event.keysWritten, JSON.parse(single.get(migrated)!).event.keysWritten);
  assert.is([...result.keys()].filter((k) => k.startsWith(KEYSPACE.ordersOf.prefix)).length, 30);
  assert.is([...result.keys()].filter((k) => k.startsWith(KEYSPACE.auditOf.prefix)).length, 30);
  assert.is(result.get(FORMAT_KEY), String(CURRENT_FORMAT));
});

test('a migration in pages that fails leaves format 1, its markers unset and every record as it was; only index entries were added', async () => {
  const at = new Date('2026-12-02T06:00:00.000Z');
  const dir = newDir();
  const head = await paidBills(dir, at);
  // An audit entry in the middle of the chain damaged: the ordersOf pages are written
  // ahead, then the auditOf build cannot read it.
  await makePreviousFormat(dir, (db) => db.put(auditKey(15), '{"seq":15,"ts":'));
  const before = await dumpStore(dir);
  const err = await migrateInPages(dir, head, at).then(() => undefined, (e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is(err!.code, 'MIGRATION_FAILED');
  assert.match(err!.message, /left in format 1 \(with 30 of the step's entries written ahead, which it allows/);
  const after = await dumpStore(dir);
  for (const [k, v] of before) assert.is(after.get(k), v, k);
  const added = [...after.keys()].filter((k) => !before.has(k));
  assert.is(added.length, 30);
  assert.ok(added.every((k) => k.startsWith(KEYSPACE.ordersOf.prefix)), 'only ordersOf! entries');
  assert.not.ok(after.has(FORMAT_KEY));
  assert.not.ok(after.has(indexMarkerKey('ordersOf')));
});

test.run();
