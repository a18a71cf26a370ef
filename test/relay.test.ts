// The outer side end to end: the real simulator over HTTP, the real channel over a Unix
// socket, with this test playing the inner side through listenChannel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, type Logger } from '../runtime/common/logger.js';
import { signRequest } from '../runtime/common/signature.js';
import { PlayedInnerSide } from './helpers/played-inner.js';
import { startOuter, type Outer } from '../runtime/outer/outer.js';
import { BREAKER_COOL_DOWN_MS, CircuitBreaker } from '../runtime/outer/relay/breaker.js';
import { ManualClock, ScaledClock, type Clock } from '../runtime/common/clock.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';
import type { Faults } from '../sim/payment-server/types.js';

const SECRET = 'relay-test-secret';
const WAIT_MS_MAX = 15_000; // a bound on waiting so that a broken relay fails instead of hanging
const log = createLogger('test', process.env.FERRY_LOG_LEVEL ?? 'silent');


interface World { sim: PaymentServerSim; inner: PlayedInnerSide; outer: Outer; dir: string }
let world: World;

interface SetUpOptions {
  qrDelayMs?: number;
  faults?: Partial<Faults>;
  timeoutMs?: number;
  breakerFailureThreshold?: number;
  breakerCoolDownMs?: number;
  clock?: Clock; // both ends of the channel and the outer side run on it
  log?: Logger;
}

// The outer side's log lines at warn and above, parsed, for tests about what it reports.
function capturedLog(): { log: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger('outer', 'warn', { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}
const ERROR_LEVELS = ['error', 'fatal'];

async function setUp(opts: SetUpOptions = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-relay-'));
  const socketPath = path.join(dir, 'channel.sock');
  const sim = new PaymentServerSim();
  const { url } = await sim.start({
    host: '127.0.0.1', port: 0, secret: SECRET, qrDelayMs: opts.qrDelayMs ?? 50, faults: opts.faults ?? {},
    notifyRetry: { attemptsMax: 60, baseMs: 50, maxMs: 400 },
  });
  const inner = new PlayedInnerSide(socketPath, log);
  await inner.listen(opts.clock);
  const outer = await startOuter({
    socketPath,
    payment: { url, secret: SECRET, timeoutMs: opts.timeoutMs ?? 2_000 },
    notify: { host: '127.0.0.1', port: 0, toleranceSec: 300 },
    log: opts.log ?? log,
    tuning: { retryBaseMs: 20, retryMaxMs: 200, breakerFailureThreshold: opts.breakerFailureThreshold ?? 3, breakerCoolDownMs: opts.breakerCoolDownMs ?? 300, notifyAckWaitMs: 1_000 },
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  sim.setNotifyUrl(outer.notifyUrl);
  world = { sim, inner, outer, dir };
  await waitFor(() => inner.connection?.isReady === true && outer.status().connected, 'the outer side connects');
  return world;
}

test.after.each(async () => {
  if (!world) return;
  await world.outer.close();
  await world.inner.close();
  await world.sim.stop();
  fs.rmSync(world.dir, { recursive: true, force: true });
});

async function waitFor(condition: () => boolean, what: string, pollMs = 10): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}


function postNotification(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a wallet-code order is acknowledged, succeeds and is charged exactly once (invariant 2)', async () => {
  const { sim, inner } = await setUp();
  inner.order('ord-1');
  await waitFor(() => inner.final('ord-1') !== undefined, 'outcome');
  assert.ok(inner.records.some((r) => r.k === 'order.ack' && r.orderId === 'ord-1'));
  assert.equal(inner.final('ord-1'), { k: 'outcome', orderId: 'ord-1', status: 'succeeded', amount: 1200 });
  assert.is(sim.chargesFor('ord-1'), 1);
});

test('only the contract fields of an order reach the payment server', async () => {
  const { sim, inner } = await setUp();
  inner.order('ord-fields', { description: 'bill 42' });
  await waitFor(() => inner.final('ord-fields') !== undefined, 'outcome');
  const payment = sim.payments().find((p) => p.orderId === 'ord-fields')!;
  assert.equal(Object.keys(JSON.parse(payment.requestJson)).sort(), ['amount', 'authCode', 'currency', 'description', 'method', 'orderId']);
});

test('a declined wallet code ends failed with its reason and no charge', async () => {
  const { sim, inner } = await setUp();
  inner.order('ord-2', { authCode: '555550000' });
  await waitFor(() => inner.final('ord-2') !== undefined, 'outcome');
  assert.equal(inner.final('ord-2'), { k: 'outcome', orderId: 'ord-2', status: 'failed', amount: 1200, reason: 'declined' });
  assert.is(sim.chargesFor('ord-2'), 0);
});

test('a scan-to-pay order is pending with a QR code, then its notification reaches the inner side and is answered 200', async () => {
  const { sim, inner } = await setUp({ qrDelayMs: 100 });
  inner.order('ord-3', { method: 'qr', authCode: undefined });
  await waitFor(() => inner.outcomes('ord-3').length > 0, 'pending outcome');
  const pending = inner.outcomes('ord-3')[0]!;
  assert.is(pending.status, 'pending');
  assert.type(pending.qrCode, 'string');
  await waitFor(() => sim.notifications().some((d) => d.delivered), 'notification delivered');
  const notes = inner.notifications();
  assert.is(notes.length, 1);
  assert.equal({ ...notes[0], notifyId: undefined }, { k: 'notification', notifyId: undefined, orderId: 'ord-3', status: 'succeeded', amount: 1200, currency: 'CNY' });
  assert.equal(sim.notifications()[0]!.statuses, [200]);
  assert.is(sim.chargesFor('ord-3'), 1);
});

test('a notification with a bad, stale or replayed signature is refused with 401 and never reaches the inner side', async () => {
  const { inner, outer } = await setUp();
  const path_ = new URL(outer.notifyUrl).pathname;
  const body = JSON.stringify({ notifyId: 'ntf-1', orderId: 'ord-x', status: 'succeeded', amount: 100, currency: 'CNY' });
  assert.is(await postNotification(outer.notifyUrl, body, signRequest('wrong-secret', 'POST', path_, body)), 401, 'bad signature');
  const stale = signRequest(SECRET, 'POST', path_, body, Math.floor(Date.now() / 1000) - 3_600);
  assert.is(await postNotification(outer.notifyUrl, body, stale), 401, 'stale');
  assert.is(inner.notifications().length, 0);
  const good = signRequest(SECRET, 'POST', path_, body);
  assert.is(await postNotification(outer.notifyUrl, body, good), 200, 'first delivery');
  assert.is(await postNotification(outer.notifyUrl, body, good), 401, 'replayed');
  assert.is(inner.notifications().length, 1);
});

test('a notification whose amount differs from the order is refused and never reaches the inner side', async () => {
  const { inner, outer } = await setUp();
  inner.order('ord-amt');
  await waitFor(() => inner.final('ord-amt') !== undefined, 'outcome');
  const body = JSON.stringify({ notifyId: 'ntf-amt', orderId: 'ord-amt', status: 'succeeded', amount: 1, currency: 'CNY' });
  const status = await postNotification(outer.notifyUrl, body, signRequest(SECRET, 'POST', new URL(outer.notifyUrl).pathname, body));
  assert.is(status, 400);
  assert.is(inner.notifications().length, 0);
});

test('a charge whose answer times out ends succeeded through the status query, charged once (invariants 1, 2)', async () => {
  const { sim, inner } = await setUp({ timeoutMs: 300, faults: { timeoutAfterCharge: 1, holdMs: 3_000 } });
  inner.order('ord-4');
  await waitFor(() => inner.final('ord-4') !== undefined, 'outcome');
  assert.equal(inner.outcomes('ord-4').map((o) => o.status), ['unknown', 'succeeded']);
  assert.is(sim.chargesFor('ord-4'), 1);
  assert.is(sim.requestsFor('ord-4'), 1, 'resolved by querying, not by paying again');
});

test('orders sent while the payment server is down all succeed once it is back, each charged once (invariants 1, 2)', async () => {
  const { sim, inner } = await setUp();
  await sim.setFaults({ down: true });
  const ids = ['ord-5a', 'ord-5b', 'ord-5c', 'ord-5d', 'ord-5e'];
  for (const id of ids) inner.order(id, { amount: 300 });
  await waitFor(() => ids.every((id) => inner.outcomes(id).some((o) => o.status === 'unknown')), 'every order is unknown while down');
  assert.ok(ids.every((id) => inner.final(id) === undefined), 'nothing is final while the server is down');
  await sim.setFaults({ down: false });
  await waitFor(() => ids.every((id) => inner.final(id) !== undefined), 'every order final');
  for (const id of ids) {
    assert.is(inner.final(id)!.status, 'succeeded', id);
    assert.is(sim.chargesFor(id), 1, id);
  }
  assert.is(sim.totalCharges(), ids.length);
});

test('quick retries of one order within the same second carry different signatures, and the server takes none for a replay', async () => {
  const { sim, inner, outer } = await setUp({ faults: { errorRate: 1 }, breakerFailureThreshold: 10 });
  inner.order('ord-nonce');
  await waitFor(() => sim.attemptsFor('ord-nonce').length >= 3, 'three attempts');
  await sim.setFaults({ errorRate: 0 });
  await waitFor(() => inner.final('ord-nonce') !== undefined, 'outcome');
  const attempts = sim.attemptsFor('ord-nonce');
  // Three attempts within a few tens of milliseconds: at least two share a second.
  const seconds = attempts.slice(0, 3).map((a) => a.timestamp);
  assert.ok(new Set(seconds).size < 3, `two attempts in the same second: ${seconds.join(', ')}`);
  assert.is(new Set(attempts.map((a) => a.signature)).size, attempts.length, 'every attempt is signed anew');
  assert.is(new Set(attempts.map((a) => a.nonce)).size, attempts.length, 'every attempt has its own nonce');
  assert.is(sim.replayedCount(), 0);
  assert.is(inner.final('ord-nonce')!.status, 'succeeded');
  assert.is(outer.status().breaker, 'closed');
  assert.is(sim.chargesFor('ord-nonce'), 1);
});

test('a payment server that refuses attempts as REPLAYED is retried: the order settles, the breaker never opens, no authentication error is logged', async () => {
  const captured = capturedLog();
  const { sim, inner, outer } = await setUp({ faults: { refuseAsReplayed: 5 }, log: captured.log });
  inner.order('ord-replayed');
  await waitFor(() => inner.final('ord-replayed') !== undefined, 'outcome');
  assert.is(sim.replayedCount(), 5, 'five attempts were refused as replays');
  assert.is(inner.final('ord-replayed')!.status, 'succeeded');
  assert.is(sim.chargesFor('ord-replayed'), 1);
  assert.is(outer.status().breaker, 'closed');
  assert.not.ok(captured.lines.some((l) => /circuit breaker/.test(l.msg)), `the breaker never changed state: ${JSON.stringify(captured.lines)}`);
  assert.not.ok(captured.lines.some((l) => ERROR_LEVELS.includes(l.level)), `nothing logged at error level: ${JSON.stringify(captured.lines)}`);
  assert.ok(captured.lines.some((l) => /replay/.test(l.msg)), 'the replay refusals are reported as such');
});

// On a clock ten times faster than real time, so that the production cool-down (10 s)
// passes in one real second.
test('the circuit breaker opens after repeated failures and closes after the cool-down', async () => {
  const clock = new ScaledClock(10);
  const { sim, inner, outer } = await setUp({ faults: { errorRate: 1 }, clock, breakerCoolDownMs: BREAKER_COOL_DOWN_MS });
  inner.order('ord-6');
  await waitFor(() => outer.status().breaker === 'open', 'breaker opens');
  const openedAt = clock.now();
  assert.is(sim.chargesFor('ord-6'), 0);
  await sim.setFaults({ errorRate: 0 });
  await waitFor(() => outer.status().breaker === 'closed', 'breaker closes', 1);
  const closedAt = clock.now();
  assert.ok(closedAt - openedAt >= BREAKER_COOL_DOWN_MS - 50, `the breaker stayed open ${closedAt - openedAt} ms of the clock, not the whole cool-down`);
  await waitFor(() => inner.final('ord-6') !== undefined, 'order succeeds after the cool-down');
  assert.is(outer.status().breaker, 'closed');
  assert.is(inner.final('ord-6')!.status, 'succeeded');
  assert.is(sim.chargesFor('ord-6'), 1);
});

test('a half-open breaker lets one probe through and reopens when it fails', async () => {
  world = undefined as unknown as World;
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1_000, clock });
  assert.ok(await breaker.admit());
  breaker.failure();
  assert.is(breaker.state, 'closed');
  breaker.failure();
  assert.is(breaker.state, 'open');
  await clock.advance(1_000);
  assert.ok(await breaker.admit(), 'the probe goes');
  assert.is(breaker.state, 'half-open');
  const aborted = new AbortController();
  const second = breaker.admit(aborted.signal);
  breaker.failure();
  assert.is(breaker.state, 'open');
  aborted.abort();
  assert.is(await second, false, 'a second caller waited instead of going with the probe');
  await clock.advance(1_000);
  assert.ok(await breaker.admit());
  breaker.success();
  assert.is(breaker.state, 'closed');
  breaker.close();
});

test('a caller waiting on an open breaker goes as the probe once the cool-down has passed on the clock, not before', async () => {
  world = undefined as unknown as World;
  const clock = new ManualClock();
  const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 10_000, clock });
  assert.ok(await breaker.admit());
  breaker.failure();
  assert.is(breaker.state, 'open');
  let admitted: boolean | undefined;
  const waiting = breaker.admit().then((ok) => (admitted = ok));
  await clock.advance(9_999);
  assert.is(admitted, undefined, 'still waiting a millisecond before the cool-down ends');
  assert.is(breaker.state, 'open');
  await clock.advance(2);
  await waiting;
  assert.is(admitted, true);
  assert.is(breaker.state, 'half-open');
  breaker.success();
  assert.is(breaker.state, 'closed');
  assert.is(clock.pending, 0, 'no timer left behind');
});

test('an order received again while in flight is sent to the payment server once', async () => {
  const { sim, inner } = await setUp({ faults: { latencyMs: 200 } });
  inner.order('ord-7');
  inner.order('ord-7');
  await waitFor(() => inner.final('ord-7') !== undefined, 'outcome');
  assert.is(inner.records.filter((r) => r.k === 'order.ack' && r.orderId === 'ord-7').length, 2, 'both acknowledged');
  assert.is(sim.requestsFor('ord-7'), 1);
  assert.is(inner.outcomes('ord-7').length, 1);
});

test("a notification while no inner side is connected gets 503, and the payment server's retry then succeeds", async () => {
  const { sim, inner, outer } = await setUp({ qrDelayMs: 400 });
  inner.order('ord-8', { method: 'qr', authCode: undefined });
  await waitFor(() => inner.outcomes('ord-8').length > 0, 'pending outcome');
  await inner.close();
  await waitFor(() => !outer.status().connected, 'the outer side sees the inner side gone');
  await waitFor(() => sim.notifications()[0]?.statuses.includes(503) === true, 'a 503 answer');
  assert.is(inner.notifications().length, 0);
  await inner.listen();
  await waitFor(() => sim.notifications()[0]?.delivered === true, 'delivered after the inner side is back');
  assert.is(inner.notifications().length, 1);
  assert.is(inner.notifications()[0]!.orderId, 'ord-8');
  assert.is(sim.chargesFor('ord-8'), 1);
});

test('duplicate notifications reach the inner side once', async () => {
  const { sim, inner } = await setUp({ faults: { duplicateNotifications: true } });
  inner.order('ord-9', { method: 'qr', authCode: undefined });
  await waitFor(() => sim.notifications().length === 2 && sim.notifications().every((d) => d.delivered), 'both deliveries answered 200');
  assert.is(sim.notifications()[0]!.notifyId, sim.notifications()[1]!.notifyId);
  assert.is(inner.notifications().length, 1);
});

test.run();
