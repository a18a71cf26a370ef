// The store on its PostgreSQL engine against a real server this suite starts: key order
// as LevelDB's, fencing by epoch, and riding through a restart of the server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import fs from 'node:fs';
import path from 'node:path';
import { ferry } from './helpers/management.js';
import { freePort as freePortNumber } from '../sim/gateway-processes.js';
import { silentLog } from './helpers/store.js';
import { copyRules, LOAD_RATE, sampleItems, sampleTotal, startTestGateway } from './helpers/gateway.js';
import { newRequestId, type DeviceClient } from '../devices/client.js';
import type { Order } from '../runtime/inner/payments/order.js';
import { KEYSPACE } from '../runtime/inner/store/keyspace.js';
import { freshStoreUrl } from './helpers/store-backend.js';
import { postgresUnavailable, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { Store, StoreError, type StoreBackend, type StoreEngine } from '../runtime/inner/store/index.js';
import { compareKeys } from '../runtime/inner/store/keys.js';
import { LEADER_TABLE, KV_TABLE, ensureSchema } from '../runtime/inner/store/postgres/schema.js';

const why = postgresUnavailable();
let server: TestPostgres | undefined;
const stores: Store[] = [];
const dirs: string[] = [];

test.before(async () => {
  if (!why) server = await startPostgres();
});
test.after.each(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
test.after(async () => {
  await server?.stop();
});

async function database(): Promise<string> {
  return freshStoreUrl(server!.url());
}

async function open(url: string, o: { epoch?: string; retryClock?: { now(): number; sleep(ms: number): Promise<void> }; writeTimeoutMs?: number } = {}): Promise<Store> {
  const backend: StoreBackend = { kind: 'postgres', url, ...(o.epoch !== undefined ? { epoch: o.epoch } : {}), ...(o.writeTimeoutMs !== undefined ? { writeTimeoutMs: o.writeTimeoutMs } : {}) };
  const store = await Store.open('/nonexistent-ferry-data', silentLog, { backend, ...(o.retryClock ? { retryClock: o.retryClock } : {}) });
  stores.push(store);
  return store;
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

// What the active box of a pair does to take over (the leadership side does it for real).
async function bumpEpoch(url: string, holder: string): Promise<string> {
  const rows = await sql<{ epoch: string }>(url, `UPDATE ${LEADER_TABLE} SET epoch = epoch + 1, holder = $1, since = now() WHERE id = 1 RETURNING epoch::text AS epoch`, [holder]);
  return rows[0]!.epoch;
}

function pgTest(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    if (why) {
      console.log(`  skipped "${name}": ${why}`);
      return;
    }
    await fn();
  });
}

pgTest('keys list in the same order on PostgreSQL as on LevelDB: punctuation, digits, case and non-ASCII', async () => {
  const keys = ['idem!a', 'idem!B', 'idem!b', 'idem!!', 'idem!~', 'idem!0', 'idem!9', 'idem!10', 'idem!-', 'idem!_', 'idem! ', 'idem!é', 'idem!z', 'idem!Z',
    'idem!中', 'idem!ﬀ', 'idem!😀', 'idem!a!b', 'idem!a"', 'idem!ab', 'idem!\u007f', 'idem!\u0080', 'idem!\uffff'];
  const dir = await mkdtemp(join(tmpdir(), 'ferry-order-'));
  dirs.push(dir);
  const level = await Store.open(dir, silentLog);
  stores.push(level);
  const postgres = await open(await database());
  for (const store of [level, postgres]) await store.transact((tx) => { for (const key of keys) tx.put(key, key); });
  // Read back from disk: reopen, so that nothing comes from the overlay.
  await level.close();
  const levelAgain = await Store.open(dir, silentLog);
  stores.push(levelAgain);
  const fromLevel = (await levelAgain.list<string>('idem!')).map(([k]) => k);
  const fromPostgres = (await postgres.list<string>('idem!')).map(([k]) => k);
  assert.equal(fromPostgres, fromLevel);
  assert.equal(fromLevel, [...keys].sort(compareKeys));
  assert.equal((await postgres.list<string>('idem!', { reverse: true, limit: 3 })).map(([k]) => k), fromLevel.slice(-3).reverse());
  assert.equal((await postgres.list<string>('idem!', { after: 'idem!Z', limit: 2 })).map(([k]) => k), fromLevel.slice(fromLevel.indexOf('idem!Z') + 1, fromLevel.indexOf('idem!Z') + 3));
});

pgTest('a listing never mixes two instants, though PostgreSQL reads after the overlay was copied', async () => {
  const store = await open(await database());
  const engine = (store as unknown as { engine: StoreEngine }).engine;
  let openDisk!: () => void;
  const diskHeld = new Promise<void>((resolve) => (openDisk = resolve));
  let openWrites!: () => void;
  const writesHeld = new Promise<void>((resolve) => (openWrites = resolve));
  const write = engine.write.bind(engine);
  engine.write = async (ops) => {
    await writesHeld;
    return write(ops);
  };
  const iterator = engine.iterator.bind(engine);
  let held = false;
  engine.iterator = (range) => {
    const it = iterator(range);
    if (held) return it;
    held = true; // only the first listing's first read waits
    return { ...it, next: async () => (await diskHeld, it.next()), nextv: async (n) => (await diskHeld, it.nextv(n)), close: () => it.close() };
  };
  const first = store.transact((tx) => tx.put('idem!a', 1)); // committed, not yet on disk
  await new Promise((resolve) => setImmediate(resolve));
  const listing = store.list<number>('idem!'); // copies the overlay now: idem!a
  const second = store.transact((tx) => { tx.del('idem!a'); tx.put('idem!b', 2); });
  openWrites();
  await Promise.all([first, second]); // both batches on disk before the listing reads it
  openDisk();
  // idem!a and idem!b never existed together: the listing is the state after the second.
  assert.equal(await listing, [['idem!b', 2]]);
});

pgTest('a gateway whose epoch was bumped cannot commit again: its next write fails FENCED and leaves nothing written', async () => {
  const url = await database();
  const first = await open(url);
  await first.close(); // the schema exists now, as after any first open
  const ours = await bumpEpoch(url, 'box-a');
  const store = await open(url, { epoch: ours });
  await store.transact((tx) => { tx.put('bill!before', 1); tx.audit({ kind: 'test.before' }); });
  const theirs = await bumpEpoch(url, 'box-b');
  const refused = await store.transact((tx) => {
    for (let i = 0; i < 50; i++) tx.put(`bill!after${i}`, i);
    tx.audit({ kind: 'test.after' });
  }).catch((err: StoreError) => err);
  assert.instance(refused, StoreError);
  assert.is((refused as StoreError).code, 'FENCED');
  assert.match((refused as StoreError).message, `epoch is ${theirs}`);
  assert.is((await store.transact((tx) => tx.put('bill!later', 1)).catch((err: StoreError) => err.code)), 'FENCED');
  assert.is(store.failure?.code, 'FENCED', 'the store says why it refuses writes');
  const rows = await sql<{ key: string }>(url, `SELECT key FROM ${KV_TABLE} WHERE key LIKE 'bill!%' ORDER BY key`);
  assert.equal(rows.map((r) => r.key), ['bill!before']);
  await store.close();
  // The new holder continues the chain the old one left.
  const successor = await open(url, { epoch: theirs });
  assert.is(await successor.get('bill!after0'), undefined);
  await successor.transact((tx) => { tx.put('bill!b2', 2); tx.audit({ kind: 'test.successor' }); });
  assert.equal(await successor.verifyAudit(), { ok: true, entries: 2 });
});

pgTest('a write waiting on an epoch bump in progress is refused FENCED once the bump commits', async () => {
  const url = await database();
  await (await open(url)).close();
  const ours = await bumpEpoch(url, 'box-a');
  const store = await open(url, { epoch: ours });
  const bumper = new pg.Client({ connectionString: url });
  await bumper.connect();
  try {
    await bumper.query('BEGIN');
    await bumper.query(`UPDATE ${LEADER_TABLE} SET epoch = epoch + 1, holder = 'box-b', since = now() WHERE id = 1`);
    const write = store.transact((tx) => tx.put('bill!raced', 1)).catch((err: StoreError) => err);
    // The batch's FOR SHARE waits for the bump's row lock.
    for (;;) {
      const waiting = await sql<{ n: string }>(url, `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'ferry' AND wait_event_type = 'Lock'`);
      if (waiting[0]!.n !== '0') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await bumper.query('COMMIT');
    assert.is(((await write) as StoreError).code, 'FENCED');
  } finally {
    await bumper.end();
  }
  assert.equal(await sql(url, `SELECT key FROM ${KV_TABLE} WHERE key = 'bill!raced'`), []);
});

pgTest('a writer session given up on while its statement waits is ended before the batch is written again, so it can never commit late', async () => {
  const url = await database();
  const store = await open(url, { writeTimeoutMs: 300 });
  await store.transact((tx) => tx.put('bill!b1', 1));
  const blocker = new pg.Client({ connectionString: url });
  await blocker.connect();
  const waitingWriters = async () => (await sql<{ pid: number }>(url,
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'ferry' AND wait_event_type = 'Lock'`)).map((r) => r.pid);
  try {
    // Hold the fence row: the batch's FOR SHARE waits, and the client gives up on it.
    await blocker.query('BEGIN');
    await blocker.query(`SELECT epoch FROM ${LEADER_TABLE} WHERE id = 1 FOR UPDATE`);
    const write = store.transact((tx) => tx.put('bill!b1', 2)).catch((err: Error) => err);
    // Guards against a hang when the behaviour is broken, not timing assertions.
    const giveUp = Date.now() + 20_000;
    let first: number | undefined;
    while (first === undefined && Date.now() < giveUp) [first] = await waitingWriters();
    assert.ok(first !== undefined, 'the batch waits on the fence row');
    // The next attempt's session waits instead, and the first one is gone.
    for (;;) {
      const pids = await waitingWriters();
      if (pids.length > 0 && !pids.includes(first)) break;
      assert.ok(Date.now() < giveUp, `the given-up session ${first} still runs: ${pids.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await sql(url, 'SELECT pid FROM pg_stat_activity WHERE pid = $1', [first]), [], 'the given-up session was ended');
    await blocker.query('COMMIT');
    assert.is(await write, undefined, 'the write went through once the fence row was free');
  } finally {
    await blocker.end();
  }
  assert.is(await store.get('bill!b1'), 2);
  assert.equal(await sql(url, `SELECT value FROM ${KV_TABLE} WHERE key = 'bill!b1'`), [{ value: '2' }]);
});

pgTest('a store opened under an epoch the database no longer names is refused FENCED at once', async () => {
  const url = await database();
  await (await open(url)).close();
  const stale = await bumpEpoch(url, 'box-a');
  await bumpEpoch(url, 'box-b');
  const err = await open(url, { epoch: stale }).catch((e: StoreError) => e);
  assert.is((err as StoreError).code, 'FENCED');
});

pgTest('a store on a database that does not exist, or on a server that does not answer, is refused with the address (never the password) and what to check', async () => {
  const missing = new URL(server!.url('ferry_nowhere'));
  const err = await open(missing.toString()).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.match((err as Error).message, /cannot open the store's PostgreSQL database at postgres:\/\/ferry@127\.0\.0\.1:\d+\/ferry_nowhere: database "ferry_nowhere" does not exist/);
  assert.match((err as Error).message, /store\.postgres\.urlFile/);
  const secret = new URL(server!.url());
  secret.password = 'hunter2-never-logged';
  secret.port = String(await freePortNumber());
  const refused = await open(secret.toString()).catch((e: Error) => e);
  assert.match((refused as Error).message, /cannot open the store's PostgreSQL database/);
  assert.not.match((refused as Error).message, /hunter2/, 'the password stays out of the message');
});

pgTest('ensureSchema run by two boxes at once makes one schema with the leader row at epoch 0', async () => {
  const url = await database();
  const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await Promise.all(clients.map((c) => ensureSchema(c)));
    await ensureSchema(clients[0]!);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  assert.equal(await sql(url, `SELECT id, epoch::text AS epoch, holder, since FROM ${LEADER_TABLE}`), [{ id: 1, epoch: '0', holder: null, since: null }]);
});

pgTest('transactions in flight ride through a PostgreSQL crash and restart: every acknowledged one is there, the chain verifies', async () => {
  const url = await database();
  const store = await open(url);
  const acknowledged: number[] = [];
  const failed: unknown[] = [];
  let stop = false;
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const n = w * 1_000_000 + i;
      await store.transact((tx) => { tx.put(`order!${n}`, { n, state: 'final' }); tx.audit({ kind: 'test.paid', n }); })
        .then(() => acknowledged.push(n), (err) => failed.push(err));
    }
  };
  const writers = [1, 2, 3, 4].map(writer);
  while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 5));
  await server!.restart('immediate');
  const afterRestart = acknowledged.length;
  while (acknowledged.length < afterRestart + 200) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await Promise.all(writers);
  assert.equal(failed, []);
  assert.ok(store.writable);
  const rows = await sql<{ key: string; value: string }>(url, `SELECT key, value FROM ${KV_TABLE} WHERE key LIKE 'order!%'`);
  assert.is(rows.length, acknowledged.length);
  for (const row of rows) assert.is(JSON.parse(row.value).state, 'final');
  assert.equal(await store.verifyAudit(), { ok: true, entries: acknowledged.length });
});

pgTest('a read while the server is down fails that read, and the store reads and writes again once it is back', async () => {
  const url = await database();
  const store = await open(url);
  await store.transact((tx) => tx.put('bill!b1', { total: 1 }));
  await store.close();
  const again = await open(url);
  await server!.stopServer('immediate');
  try {
    const err = await again.get('bill!b1').catch((e: Error) => e);
    assert.instance(err, Error);
  } finally {
    await server!.startServer();
  }
  assert.equal(await again.get('bill!b1'), { total: 1 });
  await again.transact((tx) => tx.put('bill!b2', { total: 2 }));
  assert.equal(await again.get('bill!b2'), { total: 2 });
});

pgTest('a snapshot open while the server crashes fails its reads and leaves the process running', async () => {
  const url = await database();
  const store = await open(url);
  await store.transact((tx) => tx.put('bill!b1', 1));
  const snapshot = await store.snapshot();
  assert.is(await snapshot.get('bill!b1'), '1');
  await server!.stopServer('immediate');
  try {
    assert.instance(await snapshot.get('bill!b1').catch((e: Error) => e), Error);
    await snapshot.close();
  } finally {
    await server!.startServer();
  }
  assert.is(await store.get('bill!b1'), 1);
});

pgTest('a server away longer than the retry limit fails the store closed: the waiting write and every later one are refused', async () => {
  const url = await database();
  let now = 0;
  const slept: number[] = [];
  // Manual time: each wait passes at once, so the limit is reached without sleeping.
  const retryClock = { now: () => now, sleep: async (ms: number) => { slept.push(ms); now += ms; } };
  const store = await open(url, { retryClock });
  await store.transact((tx) => tx.put('bill!b1', 1));
  await server!.stopServer('immediate');
  try {
    const err = await store.transact((tx) => tx.put('bill!b2', 2)).catch((e: StoreError) => e);
    assert.is((err as StoreError).code, 'STORE_FAILED');
    assert.ok(now <= 15_000, `gave up within the limit (${now} ms)`);
    assert.ok(now >= 10_000, `kept trying for most of it (${now} ms)`);
    assert.ok(slept.every((ms, i) => i === 0 || ms >= slept[i - 1]!), 'the wait grows');
    assert.is(store.writable, false);
  } finally {
    await server!.startServer();
  }
  assert.is(await store.transact((tx) => tx.put('bill!b3', 3)).catch((e: StoreError) => e.code), 'STORE_FAILED');
  const rows = await sql<{ key: string }>(url, `SELECT key FROM ${KV_TABLE} WHERE key LIKE 'bill!%'`);
  assert.equal(rows.map((r) => r.key), ['bill!b1']);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

pgTest('payments in flight ride through a PostgreSQL crash and restart: every accepted payment ends final, none is charged twice, the chain verifies', async () => {
  const url = await database();
  const rulesDir = copyRules({ rate: LOAD_RATE });
  const gw = await startTestGateway({ rulesDir, storeUrl: url, qrDelayMs: 50 });
  try {
    const desk = await gw.device('billing-01');
    const bills: string[] = [];
    for (let i = 0; i < 24; i++) {
      const reply = await desk.request('bill.create', { patientId: `P-R${i}`, reference: `RST-${i}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
      bills.push((reply.body as { billId: string }).billId);
    }
    const kiosks = await Promise.all(['kiosk-01', 'kiosk-02'].map((id) => gw.device(id)));
    const paid = new Map<string, string>(); // billId -> orderId
    // As a kiosk does: the same request id again after an error or no answer, until the
    // payment has a final result.
    const pay = async (kiosk: DeviceClient, billId: string) => {
      const id = newRequestId();
      const replies: string[] = [];
      // A guard against a hang, not a timing assertion: the outage lasts seconds.
      for (const giveUp = Date.now() + 90_000; Date.now() < giveUp;) {
        const reply = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' }, { id, timeoutMs: 5_000 }).catch((err: Error) => err);
        const body = reply instanceof Error ? undefined : reply.body as { status?: string; orderId?: string };
        if (!(reply instanceof Error) && reply.type === 'payment.result' && body?.status === 'succeeded') {
          paid.set(billId, body.orderId!);
          return;
        }
        assert.ok(body?.status !== 'failed', `bill ${billId} failed: ${JSON.stringify(reply)}`);
        replies.push(reply instanceof Error ? reply.message : JSON.stringify(reply.body));
        await sleep(250);
      }
      assert.unreachable(`bill ${billId} was never paid; the answers: ${[...new Set(replies)].join(' | ')}`);
    };
    const payments = bills.map((billId, i) => sleep(i * 40).then(() => pay(kiosks[i % kiosks.length]!, billId)));
    await sleep(300); // a few paid, a few in flight, the rest to come
    await server!.restart('immediate');
    await Promise.all(payments);
    assert.is(paid.size, bills.length);
    for (const [billId, orderId] of paid) assert.is(gw.sim.chargesFor(orderId), 1, `bill ${billId} charged once`);
    assert.ok(gw.inner.store.writable, 'the store rode through');
    const orders = (await gw.inner.store.list<Order>(KEYSPACE.order.prefix)).map(([, o]) => o);
    assert.is(orders.filter((o) => o.status === 'succeeded').length, bills.length);
    assert.ok(orders.every((o) => o.status === 'succeeded' || o.status === 'failed'), `no order left half-way: ${orders.map((o) => o.status).join(', ')}`);
    assert.ok((await gw.inner.store.verifyAudit()).ok);
    // The commands that read a stopped gateway's store read the configured database, even
    // while the gateway runs (no file lock to respect there).
    fs.appendFileSync(path.join(rulesDir, 'gateway.yaml'), `\nstore:\n  backend: postgres\n  postgres:\n    urlFile: ${gw.dataDir}.pg-url\n`);
    const query = await ferry(['query', 'payments', '--format', 'jsonl', '--data', gw.dataDir, '--rules', rulesDir]);
    assert.is(query.code, 0, query.stderr);
    assert.is(query.stdout.trim().split('\n').length, bills.length);
    const verify = await ferry(['audit', 'verify', '--data', gw.dataDir, '--rules', rulesDir]);
    assert.is(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /audit chain intact/);
  } finally {
    await gw.close();
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
});

test.run();
