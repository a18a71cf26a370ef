// Which box of a pair is active, against a real PostgreSQL: the advisory lock, the
// epoch that fences the store, and the takeover when the active box's lock session ends
// (killed from PostgreSQL, or its process gone).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ManualClock, systemClock, type Clock } from '../runtime/common/clock.js';
import { campaign, CampaignAborted, LEADER_LOCK_KEY, type Leader, type LeadershipOptions } from '../runtime/inner/ha/leadership.js';
import { HA_LIMITS } from '../runtime/inner/ha/limits.js';
import { Store, StoreError } from '../runtime/inner/store/index.js';
import { configurePairBox, postgresUnavailable, startPostgres, testWithPostgres, type TestPostgres } from './helpers/postgres.js';
import { quietLog, waitFor } from './helpers/gateway.js';

const skip = postgresUnavailable();
let server: TestPostgres | undefined;
let admin: pg.Client | undefined;
let dbs = 0;
const leaders: Leader[] = [];
const children: ChildProcess[] = [];
const stores: Store[] = [];
// Every campaign started, won or not: one left running holds a connection open, and uvu
// would wait on it for ever after a failed test.
const campaigns: Array<{ stop(): void; won: Promise<Leader> }> = [];

test.before(async () => {
  if (skip) return;
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
});

test.after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const c of campaigns) c.stop();
  await Promise.all(campaigns.map((c) => c.won.catch(() => undefined)));
  for (const store of stores) await store.close().catch(() => undefined);
  await Promise.all(leaders.map((l) => l.release()));
  await admin?.end();
  await server?.stop();
});

// Each test has its own database: one pair, one store, one leader row.
async function freshDatabase(): Promise<string> {
  return server!.createDatabase(`ha_${++dbs}`);
}

// A contender on a manual clock, which tells each lost attempt.
function contender(url: string, holder: string) {
  const clock = new ManualClock();
  return { clock, ...contenderOn(url, holder, clock) };
}

function contenderOn(url: string, holder: string, clock: Clock) {
  const attempts: string[] = [];
  const controller = new AbortController();
  const opts: LeadershipOptions = { connectionString: url, holder, clock, log: quietLog, onStandby: (why) => attempts.push(why) };
  const won = campaign(opts, controller.signal).then((leader) => {
    leaders.push(leader);
    return leader;
  });
  won.catch(() => {});
  const stop = () => controller.abort();
  campaigns.push({ stop, won });
  return { attempts, won, stop };
}

// Waits for a contender's campaign to win, moving its clock on by one retry each time it
// has just lost a try. On a loaded machine a try can fail for a moment (a terminated
// session's lock not yet freed, a slow connect), and on a manual clock nothing else would
// bring the next one. The clock moves only between tries, never during one.
// Every lost try waits one retry on the contender's clock; this is called once per
// contender, whose clock no one else has moved.
async function activeOn(c: { clock: ManualClock; won: Promise<Leader>; attempts: string[] }): Promise<Leader> {
  let leader: Leader | undefined;
  void c.won.then((l) => { leader = l; }, () => {});
  let retried = 0;
  await waitFor(async () => {
    if (leader) return true;
    if (c.attempts.length > retried) {
      retried += 1;
      await c.clock.advance(HA_LIMITS.retryMs);
    }
    return leader !== undefined;
  }, 20_000, 'the campaign to win');
  return leader!;
}

async function lockSessionPid(url: string, holder: string): Promise<number> {
  const { rows } = await admin!.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, [new URL(url).pathname.slice(1), `ferry-ha ${holder}`]);
  assert.is(rows.length, 1, `one lock session of ${holder}`);
  return rows[0]!.pid;
}

async function leaderRow(url: string): Promise<{ epoch: string; holder: string | null }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ epoch: string; holder: string | null }>('SELECT epoch::text AS epoch, holder FROM ferry_leader WHERE id = 1');
    return rows[0]!;
  } finally {
    await client.end();
  }
}

const run = testWithPostgres(test, skip);

run('of two contenders one becomes active with epoch 1; the other stays standby and keeps trying on its clock', async () => {
  const url = await freshDatabase();
  const a = contender(url, 'box-a');
  const first = await activeOn(a);
  assert.is(first.epoch, '1');
  const b = contender(url, 'box-b');
  await waitFor(() => b.attempts.length === 1, 15_000, 'box-b tried once');
  assert.match(b.attempts[0]!, /another box holds the leader lock \(box-a, epoch 1\)/);
  await b.clock.advance(HA_LIMITS.retryMs);
  await waitFor(() => b.attempts.length === 2, 15_000, 'box-b tried again after retryMs');
  await b.clock.advance(HA_LIMITS.retryMs - 1);
  assert.is(b.attempts.length, 2, 'not before retryMs has passed');
  assert.equal(await leaderRow(url), { epoch: '1', holder: 'box-a' });
  b.stop();
  await b.won.then(() => assert.unreachable('box-b became active while box-a held the lock'), (err) => assert.instance(err, CampaignAborted));
});

run('when the active box\'s lock session is killed from PostgreSQL it is told at once, and the standby takes over with a greater epoch', async () => {
  const url = await freshDatabase();
  const a = await activeOn(contender(url, 'box-a'));
  const b = contender(url, 'box-b');
  await waitFor(() => b.attempts.length === 1, 15_000, 'box-b is the standby');
  await admin!.query('SELECT pg_terminate_backend($1)', [await lockSessionPid(url, 'box-a')]);
  const why = await a.lost;
  assert.match(why.message, /terminat|ended/);
  const taken = await activeOn(b);
  assert.ok(BigInt(taken.epoch) > BigInt(a.epoch), `epoch ${taken.epoch} is after ${a.epoch}`);
  assert.equal(await leaderRow(url), { epoch: taken.epoch, holder: 'box-b' });
});

run('when the active box\'s process dies (SIGKILL) the standby takes over; across takeovers the epoch only grows', async () => {
  const url = await freshDatabase();
  const script = fileURLToPath(new URL('./fixtures/leader-child.js', import.meta.url));
  const epochs: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    const child = spawn(process.execPath, [script, url, `box-${i}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await waitFor(() => /active \d+/.test(out) || child.exitCode !== null, 20_000, `box-${i} active`);
    epochs.push(BigInt(/active (\d+)/.exec(out)![1]!));
    const standby = contenderOn(url, 'standby', systemClock);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const leader = await standby.won;
    epochs.push(BigInt(leader.epoch));
    await leader.release();
  }
  for (let i = 1; i < epochs.length; i++) assert.ok(epochs[i]! > epochs[i - 1]!, `epochs grow: ${epochs.join(', ')}`);
});

run('an active box that releases the lock (a clean stop) leaves it to the standby, which is not told of a loss', async () => {
  const url = await freshDatabase();
  const a = await activeOn(contender(url, 'box-a'));
  let lostToo = false;
  void a.lost.then(() => { lostToo = true; });
  const b = contender(url, 'box-b');
  await waitFor(() => b.attempts.length === 1, 15_000, 'box-b is the standby');
  await a.release();
  const taken = await activeOn(b);
  assert.is(taken.epoch, '2');
  assert.not.ok(lostToo, 'a release is not a loss');
});

run('a standby whose database is down keeps trying and becomes active once it is back', async () => {
  const url = await freshDatabase();
  await admin!.end();
  admin = undefined;
  await server!.stopServer('fast');
  const b = contender(url, 'box-b');
  try {
    await waitFor(() => b.attempts.length === 1, 20_000, 'the first try failed');
    assert.match(b.attempts[0]!, /the database cannot be used: /);
  } finally {
    await server!.startServer();
    admin = new pg.Client({ connectionString: server!.url() });
    await admin.connect();
  }
  const leader = await activeOn(b);
  assert.is(leader.epoch, '1');
});

run('an active box whose lock session stops answering (a partition without a reset) steps down after its check times out', async () => {
  const url = await freshDatabase();
  const proxy = await blackHoleProxy(server!.port);
  try {
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    const a = contender(viaProxy.toString(), 'box-a');
    const leader = await a.won;
    let lost: Error | undefined;
    void leader.lost.then((err) => { lost = err; });
    await a.clock.advance(HA_LIMITS.heartbeatMs); // a check that is answered
    assert.is(lost, undefined);
    proxy.partition();
    await a.clock.advance(HA_LIMITS.heartbeatMs + HA_LIMITS.heartbeatTimeoutMs);
    await waitFor(() => lost !== undefined, 10_000, 'the step-down');
    assert.match(lost?.message ?? '', /did not answer within/, `lost: ${lost?.message}`);
  } finally {
    proxy.close();
  }
});

// A TCP forwarder to PostgreSQL that can start swallowing every byte both ways while
// keeping both connections open: what a cut cable between switches looks like.
async function blackHoleProxy(target: number): Promise<{ port: number; partition(): void; close(): void }> {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('data', (d) => { if (!cut) to.write(d); });
      from.on('error', () => {});
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    partition: () => { cut = true; },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

run('a box whose lock session was killed while it keeps running cannot commit again: its store\'s next write is FENCED, the new active box\'s is not', async () => {
  const url = await freshDatabase();
  const a = await activeOn(contender(url, 'box-a'));
  const storeA = await openStore(url, a.epoch);
  await storeA.transact((tx) => { tx.put('bill!from-a', 1); tx.audit({ kind: 'test.a' }); });
  const b = contender(url, 'box-b');
  await waitFor(() => b.attempts.length === 1, 15_000, 'box-b is the standby');
  await admin!.query('SELECT pg_terminate_backend($1)', [await lockSessionPid(url, 'box-a')]);
  await a.lost;
  const taken = await activeOn(b);
  // Box A never learnt (or ignored) that it lost: its store is still open under epoch 1.
  const refused = await storeA.transact((tx) => tx.put('bill!stale', 1)).catch((err: unknown) => err);
  assert.instance(refused, StoreError);
  assert.is((refused as StoreError).code, 'FENCED');
  const storeB = await openStore(url, taken.epoch);
  assert.is(await storeB.get('bill!stale'), undefined, 'nothing of the stale write');
  assert.is(await storeB.get('bill!from-a'), 1, 'what box A committed while active stays');
  await storeB.transact((tx) => { tx.put('bill!from-b', 2); tx.audit({ kind: 'test.b' }); });
  assert.equal(await storeB.verifyAudit(), { ok: true, entries: 2 });
});

async function openStore(url: string, epoch: string): Promise<Store> {
  const store = await Store.open('/nonexistent-ferry-data', quietLog, { backend: { kind: 'postgres', url, epoch } });
  stores.push(store);
  return store;
}

run('the lock is the advisory lock of one named key, held by the active box\'s session', async () => {
  const url = await freshDatabase();
  await activeOn(contender(url, 'box-a'));
  const pid = await lockSessionPid(url, 'box-a');
  const key = BigInt(LEADER_LOCK_KEY);
  const { rows } = await admin!.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted
       AND database = (SELECT oid FROM pg_database WHERE datname = $3)`,
    [String(key >> 32n), String(key & 0xffffffffn), new URL(url).pathname.slice(1)]);
  assert.equal(rows.map((r) => r.pid), [pid]);
});

test.run();
