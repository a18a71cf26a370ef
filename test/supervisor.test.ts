// `ferry start` keeps both sides running: a crashed child is restarted with backoff,
// and stopping the supervisor stops everything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { RESTART_POLICY, Supervisor, type Restart } from '../runtime/supervisor/supervisor.js';
import { PROJECT_DIR, quietLog, tempDir, waitFor } from './helpers/gateway.js';
import { SIDE_NODE_FLAGS } from '../runtime/common/node-flags.js';

const CHILD = path.join(PROJECT_DIR, 'dist/test/fixtures/crashing-child.js');

function starts(file: string): number[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
}

test('a child that crashes is restarted, with growing delays, until the supervisor stops', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'crasher', script: CHILD, args: [file, 'crash'] }], quietLog);
  supervisor.start();
  try {
    await waitFor(() => starts(file).length >= 3, 10_000, 'three starts');
  } finally {
    await supervisor.stop();
  }
  const count = starts(file).length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(starts(file).length, count, 'no restart after stop');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a child that exits with a fatal status is not restarted: the supervisor says so once', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'crasher', script: CHILD, args: [file, 'crash'] }], quietLog, { fatalExitCodes: [3] });
  const fatal: { child: string; code: number }[] = [];
  const restarts: Restart[] = [];
  supervisor.on('fatal', (f) => fatal.push(f));
  supervisor.on('restart', (r) => restarts.push(r));
  supervisor.start();
  try {
    await waitFor(() => fatal.length > 0, 10_000, 'the fatal exit');
    await new Promise((r) => setTimeout(r, RESTART_POLICY.baseMs * 3));
  } finally {
    await supervisor.stop();
  }
  assert.equal(fatal, [{ child: 'crasher', code: 3 }]);
  assert.is(restarts.length, 0);
  assert.is(starts(file).length, 1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a child does not get systemd's NOTIFY_SOCKET or WATCHDOG_USEC: it must not report for the supervisor", async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const saved = { NOTIFY_SOCKET: process.env.NOTIFY_SOCKET, WATCHDOG_USEC: process.env.WATCHDOG_USEC };
  process.env.NOTIFY_SOCKET = path.join(dir, 'notify.sock');
  process.env.WATCHDOG_USEC = '20000000';
  const supervisor = new Supervisor([{ name: 'steady', script: CHILD, args: [file, 'stay'] }], quietLog);
  try {
    supervisor.start();
    await waitFor(() => fs.existsSync(`${file}.env`), 10_000, 'the child to start');
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    await supervisor.stop();
  }
  assert.equal(JSON.parse(fs.readFileSync(`${file}.env`, 'utf8')), { NOTIFY_SOCKET: null, WATCHDOG_USEC: null });
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a child is started with the node flags its spec names, as a side gets its V8 flags from the table", async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'inner', script: CHILD, args: [file, 'stay'], nodeFlags: SIDE_NODE_FLAGS.inner }], quietLog);
  try {
    supervisor.start();
    await waitFor(() => fs.existsSync(`${file}.argv`), 10_000, 'the child to start');
  } finally {
    await supervisor.stop();
  }
  assert.equal(JSON.parse(fs.readFileSync(`${file}.argv`, 'utf8')), [...SIDE_NODE_FLAGS.inner]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a child killed with SIGKILL is started again, and stop ends the new one', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'steady', script: CHILD, args: [file, 'stay'] }], quietLog);
  supervisor.start();
  try {
    await waitFor(() => starts(file).length === 1, 5000, 'the first start');
    const first = supervisor.pid('steady')!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => starts(file).length === 2, 5000, 'the restart');
    const second = supervisor.pid('steady')!;
    assert.is.not(second, first);
    await supervisor.stop();
    assert.throws(() => process.kill(second, 0), 'the restarted child is gone after stop');
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The delays the supervisor asks for, run at once: a crash loop without the waiting.
function immediateSchedule(delays: number[]): (fn: () => void, ms: number) => () => void {
  return (fn, ms) => {
    delays.push(ms);
    const timer = setImmediate(fn);
    return () => clearImmediate(timer);
  };
}

test('a child that dies right after it starts is restarted with growing delays, up to the cap', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const delays: number[] = [];
  const supervisor = new Supervisor([{ name: 'crasher', script: CHILD, args: [file, 'crash'] }], quietLog, { now: () => 0, schedule: immediateSchedule(delays) });
  supervisor.start();
  try {
    await waitFor(() => delays.length >= 8, 20_000, 'eight restarts');
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(delays.slice(0, 8), [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.is(RESTART_POLICY.maxMs, 10_000);
});

test('a child killed after it had been up a while is restarted within 200 ms; only quick deaths after that back off', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  let now = 0;
  const restarts: Restart[] = [];
  const supervisor = new Supervisor([{ name: 'steady', script: CHILD, args: [file, 'stay'] }], quietLog, { now: () => now });
  supervisor.on('restart', (r) => restarts.push(r));
  supervisor.start();
  const killAndWait = async (count: number) => {
    const started = Date.now();
    process.kill(supervisor.pid('steady')!, 'SIGKILL');
    await waitFor(() => starts(file).length === count, 10_000, `start ${count}`);
    return Date.now() - started;
  };
  try {
    await waitFor(() => starts(file).length === 1, 5000, 'the first start');
    now += 60_000; // up for a minute
    const tookMs = await killAndWait(2);
    console.log(`  kill -9 of a child up for a minute: started again ${tookMs} ms later (process start included)`);
    assert.equal(restarts[0], { child: 'steady', uptimeMs: 60_000, quickDeaths: 0, delayMs: restarts[0]!.delayMs });
    assert.ok(restarts[0]!.delayMs <= 200, `restart delay ${restarts[0]!.delayMs} ms`);
    await killAndWait(3); // at once: a quick death
    assert.equal(restarts.map((r) => [r.quickDeaths, r.delayMs]).slice(1), [[1, 250]]);
    now += 60_000;
    await killAndWait(4); // up a while again: the backoff is forgotten
    assert.equal(restarts.map((r) => r.quickDeaths), [0, 1, 0]);
    assert.ok(restarts[2]!.delayMs <= 200);
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
