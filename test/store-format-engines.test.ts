// The store format on the backend of this pass (LevelDB, and PostgreSQL in the second
// pass): a new store is stamped with the current format, and a newer one is refused
// before anything is written, whichever engine holds it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { silentLog, storeFixture } from './helpers/store.js';
import { backendFor, openTestStore } from './helpers/store-backend.js';
import { openEngine } from '../runtime/inner/store/backend.js';
import { StoreError } from '../runtime/inner/store/index.js';
import { CURRENT_FORMAT, FORMAT_KEY } from '../runtime/inner/store/format.js';
import { indexMarkerKey } from '../runtime/inner/management/indexes.js';

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
