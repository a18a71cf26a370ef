// The inner store against real LevelDB files in temp directories (or, in the PostgreSQL
// pass, a database each): transactions, group commit, the unsynced overlay, and
// durability across a SIGKILL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLog, storeFixture } from './helpers/store.js';
import { backendFor, verifyTestAudit } from './helpers/store-backend.js';
import { MAX_BATCH_OPS, StoreError } from '../runtime/inner/store/index.js';

const log = silentLog;
const { tempDir, openStore } = storeFixture(test, 'store');

test("a transaction's writes survive close and reopen", async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  await store.transact((tx) => {
    tx.put('bill!b1', { total: 1200, currency: 'CNY' });
    tx.put('billsOf!p1!b1', true);
  });
  await store.close();
  const reopened = await openStore(dir);
  assert.equal(await reopened.get('bill!b1'), { total: 1200, currency: 'CNY' });
  assert.equal(await reopened.get('billsOf!p1!b1'), true);
  assert.is(await reopened.get('bill!missing'), undefined);
});

test('concurrent transactions that increment one counter never lose an update', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  const increments = 300;
  await Promise.all(Array.from({ length: increments }, () => store.transact(async (tx) => {
    const n = (await tx.get<number>('meta!counter')) ?? 0;
    await new Promise((resolve) => setImmediate(resolve)); // let everyone else try to interleave
    tx.put('meta!counter', n + 1);
  })));
  assert.is(await store.get('meta!counter'), increments);
  await store.close();
  const reopened = await openStore(dir);
  assert.is(await reopened.get('meta!counter'), increments);
});

test('a failing transaction leaves none of its writes behind', async () => {
  const dir = await tempDir();
  const store = await openStore(dir);
  await store.transact((tx) => tx.put('order!o1', { state: 'open' }));
  const failing = store.transact(async (tx) => {
    tx.put('order!o1', { state: 'paid' });
    tx.put('order!o2', { state: 'open' });
    tx.del('order!o1');
    throw new Error('business rule refused');
  });
  await failing.then(() => assert.unreachable('the transaction rejects'), (err: Error) => assert.is(err.message, 'business rule refused'));
  assert.equal(await store.get('order!o1'), { state: 'open' });
  assert.is(await store.get('order!o2'), undefined);
  await store.close();
  const reopened = await openStore(dir);
  assert.equal(await reopened.list('order!'), [['order!o1', { state: 'open' }]]);
});

test('reads see committed writes before they are synced', async () => {
  const store = await openStore(await tempDir());
  const first = store.transact((tx) => {
    tx.put('journal!o1', { state: 'open' });
    tx.del('journal!o0');
  });
  const seen = await store.transact(async (tx) => {
    // This fn runs in the same turn as the first commit, before its fsync can report back.
    const batchesSynced = store.stats.batches;
    const viaStore = await store.get('journal!o1');
    const viaTx = await tx.get('journal!o1');
    const listed = await store.list('journal!');
    return { batchesSynced, viaStore, viaTx, listed };
  });
  await first;
  assert.is(seen.batchesSynced, 0);
  assert.equal(seen.viaStore, { state: 'open' });
  assert.equal(seen.viaTx, { state: 'open' });
  assert.equal(seen.listed, [['journal!o1', { state: 'open' }]]);
});

test("a transaction reads its own writes and deletes", async () => {
  const store = await openStore(await tempDir());
  await store.transact((tx) => tx.put('idem!k1', { answer: 1 }));
  const seen = await store.transact(async (tx) => {
    tx.put('idem!k2', { answer: 2 });
    tx.del('idem!k1');
    return { k1: await tx.get('idem!k1'), k2: await tx.get('idem!k2'), listed: await tx.list('idem!') };
  });
  assert.is(seen.k1, undefined);
  assert.equal(seen.k2, { answer: 2 });
  assert.equal(seen.listed, [['idem!k2', { answer: 2 }]]);
});

test('a value read from disk and remembered is never older than the last write, whoever reads first', async () => {
  const dir = await tempDir();
  let store = await openStore(dir);
  await store.transact((tx) => tx.put('bill!b1', { v: 0 }));
  await store.close();
  store = await openStore(dir); // nothing in memory: the next reads go to the disk
  // Hold each disk read's answer until a write of its key has committed and synced.
  const engine = (store as unknown as { engine: { get(...args: unknown[]): Promise<unknown> } }).engine;
  const read = engine.get.bind(engine);
  let hold: Promise<void> = Promise.resolve();
  engine.get = async (...args) => {
    const value = await read(...args);
    await hold;
    return value;
  };
  let release!: () => void;
  hold = new Promise((resolve) => (release = resolve));
  const racing = store.get<{ v: number }>('bill!b1');
  const missing = store.get('bill!new');
  await new Promise((resolve) => setTimeout(resolve, 20)); // both reads are on the disk
  await store.transact((tx) => {
    tx.put('bill!b1', { v: 1 });
    tx.put('bill!new', { v: 1 });
  });
  release();
  assert.equal(await racing, { v: 0 }, 'the racing read saw the disk before the write');
  assert.is(await missing, undefined);
  assert.equal(await store.get('bill!b1'), { v: 1 });
  assert.equal(await store.get('bill!new'), { v: 1 });
  // Inside a transaction a read is remembered (the mutex keeps writes out meanwhile).
  await store.close();
  store = await openStore(dir);
  assert.equal(await store.transact((tx) => tx.get('bill!b1')), { v: 1 });
  await store.transact((tx) => tx.del('bill!b1'));
  await store.durable();
  assert.is(await store.get('bill!b1'), undefined);
});

test('many concurrent transactions share fewer batches than transactions', async () => {
  const store = await openStore(await tempDir());
  const count = 500;
  await Promise.all(Array.from({ length: count }, (_, i) => store.transact((tx) => tx.put(`order!${i}`, { i }))));
  const stats = store.stats;
  assert.is(stats.transactions, count);
  assert.is(stats.writes, count);
  assert.ok(stats.batches < count, `${stats.batches} batches for ${count} transactions`);
  assert.ok(stats.batches >= 1);
});

test('list merges pending and synced writes in key order, within the prefix only', async () => {
  const store = await openStore(await tempDir());
  await store.transact((tx) => {
    for (const id of ['b1', 'b3', 'b5']) tx.put(`bill!${id}`, { id, v: 'disk' });
    tx.put('billsOf!p1', ['b1']);
    tx.put('bilk!x', 'before the prefix');
  });
  assert.equal((await store.list('bill!')).map(([k]) => k), ['bill!b1', 'bill!b3', 'bill!b5']);
  const pending = store.transact((tx) => {
    tx.put('bill!b2', { id: 'b2', v: 'overlay' });
    tx.put('bill!b3', { id: 'b3', v: 'overlay' });
    tx.put('bill!b6', { id: 'b6', v: 'overlay' });
  });
  const merged = await store.transact(async () => store.list<{ id: string; v: string }>('bill!'));
  await pending;
  assert.equal(merged.map(([k, v]) => `${k}=${v.v}`), ['bill!b1=disk', 'bill!b2=overlay', 'bill!b3=overlay', 'bill!b5=disk', 'bill!b6=overlay']);
  assert.equal((await store.list('bill!')).length, 5);
});

test('list hides keys deleted by a pending or a synced delete', async () => {
  const store = await openStore(await tempDir());
  await store.transact((tx) => {
    for (const id of ['a', 'b', 'c', 'd']) tx.put(`journal!${id}`, id);
  });
  await store.transact((tx) => tx.del('journal!a'));
  const pending = store.transact((tx) => {
    tx.del('journal!c');
    tx.del('journal!never-existed');
  });
  const inFlight = await store.transact(async () => store.list<string>('journal!'));
  await pending;
  assert.equal(inFlight, [['journal!b', 'b'], ['journal!d', 'd']]);
  assert.equal(await store.list('journal!'), [['journal!b', 'b'], ['journal!d', 'd']]);
});

test('list honours limit and reverse across overlay and disk', async () => {
  const store = await openStore(await tempDir());
  await store.transact((tx) => {
    for (const n of [1, 3, 5, 7]) tx.put(`order!${n}`, n);
  });
  const pending = store.transact((tx) => {
    tx.put('order!2', 2);
    tx.put('order!6', 6);
    tx.del('order!5');
  });
  const seen = await store.transact(async () => ({
    first3: await store.list<number>('order!', { limit: 3 }),
    last3: await store.list<number>('order!', { limit: 3, reverse: true }),
    none: await store.list<number>('order!', { limit: 0 }),
    all: await store.list<number>('order!'),
  }));
  await pending;
  assert.equal(seen.first3.map(([, v]) => v), [1, 2, 3]);
  assert.equal(seen.last3.map(([, v]) => v), [7, 6, 3]);
  assert.equal(seen.none, []);
  assert.equal(seen.all.map(([, v]) => v), [1, 2, 3, 6, 7]);
});

test('durable resolves once every queued write is on disk', async () => {
  const store = await openStore(await tempDir());
  const acks = Array.from({ length: 50 }, (_, i) => store.transact((tx) => tx.put(`meta!${i}`, i)));
  await store.transact(() => undefined); // all 50 have committed once this one ran
  await store.durable();
  assert.is(store.stats.writes, 50);
  await Promise.all(acks);
});

test('a failed batch write rejects its transactions and the store refuses further writes', async () => {
  const store = await openStore(await tempDir());
  await store.transact((tx) => tx.put('meta!before', 1));
  // Pull the disk out from under the store: the next batch write fails.
  await (store as unknown as { engine: { close(): Promise<void> } }).engine.close();
  const results = await Promise.allSettled([1, 2, 3].map((i) => store.transact((tx) => tx.put(`meta!lost${i}`, i))));
  for (const result of results) {
    assert.is(result.status, 'rejected');
    assert.is(((result as PromiseRejectedResult).reason as StoreError).code, 'STORE_FAILED');
  }
  const later = await store.transact((tx) => tx.put('meta!after', 1)).catch((err: StoreError) => err.code);
  assert.is(later, 'STORE_FAILED');
  assert.is(await store.durable().catch((err: StoreError) => err.code), 'STORE_FAILED');
});

test('a transaction larger than one batch is refused whole', async () => {
  const store = await openStore(await tempDir());
  const err = await store.transact((tx) => {
    for (let i = 0; i <= MAX_BATCH_OPS; i++) tx.put(`order!${i}`, i);
  }).catch((e: StoreError) => e);
  assert.instance(err, StoreError);
  assert.is((err as StoreError).code, 'TX_TOO_LARGE');
  assert.equal(await store.list('order!', { limit: 1 }), []);
  await store.transact((tx) => tx.put('order!ok', 1));
  assert.is(await store.get('order!ok'), 1);
});

test('a transaction handle used after its transaction ended throws', async () => {
  const store = await openStore(await tempDir());
  let escaped: { put(key: string, value: unknown): void } | undefined;
  await store.transact((tx) => {
    escaped = tx;
  });
  assert.throws(() => escaped!.put('meta!late', 1), /only inside its transaction/);
});

test('the store refuses transactions once closing, after finishing the queued ones', async () => {
  const store = await openStore(await tempDir());
  const queued = Array.from({ length: 20 }, (_, i) => store.transact((tx) => tx.put(`meta!${i}`, i)));
  const closed = store.close();
  const refused = await store.transact((tx) => tx.put('meta!late', 1)).catch((err: StoreError) => err.code);
  await Promise.all(queued);
  await closed;
  assert.is(refused, 'STORE_CLOSED');
});

test('every acknowledged write is on disk after the process is killed with SIGKILL', async () => {
  const dir = await tempDir();
  const acked = await runChildUntilKilled(dir, 400);
  assert.ok(acked.length >= 400);
  const store = await openStore(dir);
  for (const id of acked) {
    assert.equal(await store.get(`acked!${String(id).padStart(8, '0')}`), { id }, `acknowledged write ${id}`);
  }
  await store.close();
  const verdict = await verifyTestAudit(dir);
  assert.ok(verdict.ok);
  assert.ok(verdict.entries >= acked.length);
});

// Runs the crash child until it kills itself with SIGKILL right after acknowledging
// `killAfter` transactions, and returns every id it printed.
async function runChildUntilKilled(dir: string, killAfter: number): Promise<number[]> {
  const script = fileURLToPath(new URL('./fixtures/store-crash-child.js', import.meta.url));
  const backend = await backendFor(dir);
  const child = spawn(process.execPath, [script, dir, String(killAfter), ...(backend?.kind === 'postgres' ? [backend.url] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  // A guard so that a broken child cannot hang the run; it is not a timing assertion.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  guard.unref();
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (text += chunk));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
  clearTimeout(guard);
  assert.is(signal, 'SIGKILL');
  // Only complete lines: a line cut short by the kill was not fully acknowledged.
  return text.split('\n').slice(0, -1).map(Number);
}

test("the metrics' observer hears each durable transaction's audit events and each synced batch, and one that throws fails nothing", async () => {
  const store = await openStore(await tempDir());
  const heard: string[] = [];
  let batches = 0;
  store.observe({
    committed: (events) => heard.push(...events.map((e) => e.kind)),
    synced: (writes, seconds) => {
      assert.ok(writes >= 1 && seconds >= 0);
      batches += 1;
    },
    verified: (verdict) => heard.push(`verified ${verdict.ok}`),
  });
  await store.transact((tx) => {
    tx.put('bill!b1', { total: 1 });
    tx.audit({ kind: 'bill.created' });
  });
  await store.transact(() => {
    throw new Error('rolled back');
  }).catch(() => undefined);
  await store.audit({ kind: 'gap.refused' });
  await store.verifyAudit();
  assert.equal(heard, ['bill.created', 'gap.refused', 'verified true']);
  assert.ok(batches >= 2, 'each batch was timed');

  store.observe({
    committed: () => { throw new Error('metrics broken'); },
    synced: () => { throw new Error('metrics broken'); },
    verified: () => { throw new Error('metrics broken'); },
  });
  await store.transact((tx) => {
    tx.put('bill!b2', { total: 2 });
    tx.audit({ kind: 'bill.created' });
  });
  await store.transact((tx) => tx.put('bill!b3', { total: 3 }));
  assert.equal(await store.get('bill!b3'), { total: 3 });
  assert.is((await store.verifyAudit()).ok, true);
});

test.run();
