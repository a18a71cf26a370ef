// Which store backend the suites run on: LevelDB (the default), or PostgreSQL when
// test/run.mjs runs its second pass with FERRY_TEST_STORE=postgres and
// FERRY_TEST_PG_URL (a superuser's connection string to the cluster it started). Each
// data directory a test makes gets a fresh database of its own, the same one every time
// the test opens that directory again (a restart, a read-only query, a verification).
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { StoreBackend } from '../../runtime/inner/store/index.js';

export const TEST_STORE: 'leveldb' | 'postgres' = process.env.FERRY_TEST_STORE === 'postgres' ? 'postgres' : 'leveldb';

const byDir = new Map<string, Promise<StoreBackend>>();
let made = 0;

// undefined on LevelDB (the store's default, under dataDir).
export async function backendFor(dataDir: string): Promise<StoreBackend | undefined> {
  if (TEST_STORE === 'leveldb') return undefined;
  const dir = path.resolve(dataDir);
  let backend = byDir.get(dir);
  if (!backend) {
    backend = freshDatabase().then((url) => ({ kind: 'postgres' as const, url }));
    byDir.set(dir, backend);
  }
  return backend;
}

// Store.open's options for a test's data directory.
export async function storeOptionsFor(dataDir: string): Promise<{ backend?: StoreBackend }> {
  const backend = await backendFor(dataDir);
  return backend ? { backend } : {};
}

// A new empty database on the test cluster; its connection string.
export async function freshDatabase(adminUrl = process.env.FERRY_TEST_PG_URL): Promise<string> {
  if (!adminUrl) throw new Error('FERRY_TEST_PG_URL is not set: the PostgreSQL pass is started by test/run.mjs');
  const name = `ferry_${process.pid}_${++made}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// A file holding the connection string of dataDir's database, for gateway.yaml's
// `store.postgres.urlFile` (undefined on LevelDB). It lives next to the data directory.
export async function urlFileFor(dataDir: string): Promise<string | undefined> {
  const backend = await backendFor(dataDir);
  if (backend?.kind !== 'postgres') return undefined;
  const file = `${path.resolve(dataDir)}.pg-url`;
  fs.writeFileSync(file, `${backend.url}\n`, { mode: 0o600 });
  return file;
}
