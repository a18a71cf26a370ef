// The store format and backups on the backend of this pass (LevelDB, and PostgreSQL in
// the second pass): a new store is stamped with the current format, a newer one is
// refused before anything is written, and a backup read from the engine's snapshot
// restores into an embedded store, whichever engine held it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLog, storeFixture } from './helpers/store.js';
import { backendFor, openTestStore } from './helpers/store-backend.js';
import { openEngine } from '../runtime/inner/store/backend.js';
import { StoreError } from '../runtime/inner/store/index.js';
import { CURRENT_FORMAT, FORMAT_KEY } from '../runtime/inner/store/format.js';
import { indexMarkerKey } from '../runtime/inner/management/indexes.js';
import { join } from 'node:path';
import { key } from '../runtime/inner/store/keyspace.js';
import { auditHeadOf, batchesOf } from '../runtime/inner/store/snapshot.js';
import { encodeBackup } from '../runtime/inner/store/backup-file.js';
import { restoreBackup } from '../runtime/inner/store/restore.js';
import { writeFileAtomically } from '../runtime/common/replace-file.js';
import { asBackedUp, dumpStore } from './helpers/previous-format.js';

const { tempDir, openStore } = storeFixture(test, 'format-engines');

test('a new store is stamped with the current format and its indexes marked complete', async () => {
  const store = await openStore(await tempDir());
  assert.is(await store.get(FORMAT_KEY), CURRENT_FORMAT);
  assert.is(await store.get(indexMarkerKey('ordersOf')), true);
  assert.is(await store.get(indexMarkerKey('auditOf')), true);
});

test('a store of a newer format is refused with both formats named, and stays as it was', async () => {
  const dir = await tempDir();
  const store = await openTestStore(dir, silentLog);
  await store.transact((tx) => tx.put(FORMAT_KEY, CURRENT_FORMAT + 1));
  await store.audit({ kind: 'test.before' });
  const head = store.auditHead;
  await store.close();
  const err = await openTestStore(dir, silentLog).then(async (s) => {
    await s.close();
    return undefined;
  }, (e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is(err!.code, 'FORMAT_NEWER');
  assert.match(err!.message, `is in store format ${CURRENT_FORMAT + 1}, and this Ferry`);
  // Put back what it knows, and it opens with nothing else changed.
  const again = await openTestStoreWithFormat(dir, CURRENT_FORMAT);
  assert.equal(again.auditHead, head);
});

test('a backup streamed from a store\'s snapshot restores into an embedded store key for key, with its audit head', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  for (let i = 0; i < 30; i++) {
    await store.transact((tx) => {
      tx.put(key('bill', `B20261120-test-${String(i).padStart(6, '0')}`), { n: i });
      tx.audit({ kind: 'test.written', n: i });
    });
  }
  const snapshot = await store.snapshot();
  const auditHead = await auditHeadOf(snapshot);
  assert.equal(auditHead, store.auditHead);
  const expected = new Map<string, string>();
  const counted = async function* () {
    for await (const batch of batchesOf(snapshot)) {
      for (const [k, v] of batch) expected.set(k, v);
      yield batch;
    }
  };
  // Written while the store goes on: not in the backup.
  await store.audit({ kind: 'test.after' });
  const file = join(await tempDir(), 'x.ferrybak');
  await writeFileAtomically(file, encodeBackup({ ferryBackup: 1, storeFormat: CURRENT_FORMAT, ferryVersion: 'test', commit: 'test', createdAt: new Date(0).toISOString(), auditHead, reason: 'backup' }, counted()));
  const target = await tempDir();
  const report = await restoreBackup(file, target, { force: false, now: () => new Date(0) });
  assert.ok(report.verdict.ok);
  assert.is(report.trailer.keys, expected.size);
  assert.equal(asBackedUp(await dumpStore(target), expected, auditHead.seq), expected);
  assert.is(report.auditHead.seq, auditHead.seq + 1);
});

// The format key set back by hand, on the engine itself (as an operator would put back
// a key), then the store opened.
async function openTestStoreWithFormat(dir: string, format: number) {
  const engine = await openEngine(dir, await backendFor(dir), { createIfMissing: false });
  try {
    await engine.write([{ type: 'put', key: FORMAT_KEY, value: String(format) }]);
  } finally {
    await engine.close();
  }
  return openStore(dir);
}

test.run();
