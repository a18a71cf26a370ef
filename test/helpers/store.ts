// Real stores in temp directories for the store and audit suites, on the backend of this
// pass (helpers/store-backend.ts): every store opened and every directory made is closed
// and removed after each test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'uvu';
import { createLogger } from '../../runtime/common/logger.js';
import type { Store } from '../../runtime/inner/store/index.js';
import { openTestStore, removeStoreArtefacts } from './store-backend.js';

export const silentLog = createLogger('store-test', 'silent');

export function storeFixture(test: Test, prefix: string): { tempDir(): Promise<string>; openStore(dir: string): Promise<Store> } {
  const dirs: string[] = [];
  const stores: Store[] = [];
  test.after.each(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) {
      await rm(dir, { recursive: true, force: true });
      removeStoreArtefacts(dir);
    }
  });
  return {
    async tempDir() {
      const dir = await mkdtemp(join(tmpdir(), `ferry-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    async openStore(dir) {
      const store = await openTestStore(dir, silentLog);
      stores.push(store);
      return store;
    },
  };
}
