// Which store backend the suites run on: LevelDB (the default), or PostgreSQL when
// test/run.mjs runs its second pass with FERRY_TEST_STORE=postgres and
// FERRY_TEST_PG_URL (a superuser's connection string to the cluster it started). Each
// data directory a test makes gets a fresh store (a schema) of its own, the same one every time
// the test opens that directory again (a restart, a read-only query, a verification).
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import pg from 'pg';
import type { Logger } from '../../runtime/common/logger.js';
import { Store, verifyAudit, type AuditVerdict, type StoreBackend, type StoreOptions } from '../../runtime/inner/store/index.js';
import { KV_TABLE } from '../../runtime/inner/store/postgres/schema.js';

const EXAMPLE_RULES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../rules');

export const TEST_STORE: 'leveldb' | 'postgres' = process.env.FERRY_TEST_STORE === 'postgres' ? 'postgres' : 'leveldb';

const byDir = new Map<string, Promise<StoreBackend>>();
let made = 0;

// undefined on LevelDB (the store's default, under dataDir).
export async function backendFor(dataDir: string): Promise<StoreBackend | undefined> {
  if (TEST_STORE === 'leveldb') return undefined;
  const dir = path.resolve(dataDir);
  let backend = byDir.get(dir);
  if (!backend) {
    backend = freshStoreUrl().then((url) => ({ kind: 'postgres' as const, url }));
    byDir.set(dir, backend);
  }
  return backend;
}

// Store.open's options for a test's data directory.
export async function storeOptionsFor(dataDir: string): Promise<{ backend?: StoreBackend }> {
  const backend = await backendFor(dataDir);
  return backend ? { backend } : {};
}

// A new empty store on the test cluster; its connection string. Each is a schema of its
// own in one database, named by the connection's search_path (CREATE SCHEMA takes a few
// milliseconds, CREATE DATABASE a few hundred on a busy machine); the store's tables
// are found through the search path as they would be in a database of their own.
export async function freshStoreUrl(adminUrl = process.env.FERRY_TEST_PG_URL): Promise<string> {
  if (!adminUrl) throw new Error('FERRY_TEST_PG_URL is not set: the PostgreSQL pass is started by test/run.mjs');
  const name = `ferry_${process.pid}_${++made}_${Date.now().toString(36)}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.searchParams.set('options', `-c search_path=${name}`);
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

// Store.open and verifyAudit on the backend of this pass.
export async function openTestStore(dataDir: string, log: Logger, options: StoreOptions = {}): Promise<Store> {
  return Store.open(dataDir, log, { ...options, ...(await storeOptionsFor(dataDir)) });
}

export async function verifyTestAudit(dataDir: string): Promise<AuditVerdict> {
  return verifyAudit(dataDir, await backendFor(dataDir));
}

// The command-line options that point a `ferry` command reading a stopped gateway's
// store (`audit verify`, `query --data`) at dataDir's store: none on LevelDB; on
// PostgreSQL a rules directory (a copy of the example rules) whose gateway.yaml names
// the database. The directory is removed with dataDir's `.rules` sibling by the caller.
export async function storeRulesArgs(dataDir: string): Promise<string[]> {
  const urlFile = await urlFileFor(dataDir);
  if (urlFile === undefined) return [];
  const rulesDir = `${path.resolve(dataDir)}.rules`;
  fs.cpSync(EXAMPLE_RULES, rulesDir, { recursive: true });
  fs.appendFileSync(path.join(rulesDir, 'gateway.yaml'), `\nstore:\n  backend: postgres\n  postgres:\n    urlFile: ${urlFile}\n`);
  return ['--rules', rulesDir];
}

// What the files and databases made for dataDir leave behind, removed.
export function removeStoreArtefacts(dataDir: string): void {
  const base = path.resolve(dataDir);
  fs.rmSync(`${base}.pg-url`, { force: true });
  fs.rmSync(`${base}.rules`, { recursive: true, force: true });
}

// The raw store, edited the way someone with access to the disk or the database would:
// LevelDB's own API on LevelDB, SQL on PostgreSQL. Values are JSON text.
export interface RawStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  del(key: string): Promise<void>;
  batch(ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }>): Promise<void>;
  close(): Promise<void>;
}

export async function openRawStore(dataDir: string): Promise<RawStore> {
  const backend = await backendFor(dataDir);
  if (backend?.kind !== 'postgres') {
    const db = new Level<string, string>(path.join(dataDir, 'store'), { valueEncoding: 'utf8' });
    await db.open();
    return {
      get: (key) => db.get(key),
      put: (key, value) => db.put(key, value),
      del: (key) => db.del(key),
      batch: (ops) => db.batch(ops),
      close: () => db.close(),
    };
  }
  const client = new pg.Client({ connectionString: backend.url });
  await client.connect();
  const put = async (key: string, value: string) => {
    await client.query(`INSERT INTO ${KV_TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]);
  };
  const del = async (key: string) => {
    await client.query(`DELETE FROM ${KV_TABLE} WHERE key = $1`, [key]);
  };
  return {
    get: async (key) => (await client.query<{ value: string }>(`SELECT value FROM ${KV_TABLE} WHERE key = $1`, [key])).rows[0]?.value,
    put,
    del,
    async batch(ops) {
      await client.query('BEGIN');
      for (const op of ops) await (op.type === 'put' ? put(op.key, op.value) : del(op.key));
      await client.query('COMMIT');
    },
    close: () => client.end(),
  };
}
