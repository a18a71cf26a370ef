// The console's figures: the audit feed reads refusals, payments and reloads from a real
// store's audit chain, and the history turns running totals into per-minute points on
// the side's clock (a ManualClock: no waiting).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../runtime/common/clock.js';
import { AuditFeed, CONSOLE_FEED_LIMITS } from '../../runtime/inner/management/console/audit-feed.js';
import { CONSOLE_HISTORY_LIMITS, History, type HistoryReading } from '../../runtime/inner/management/console/history.js';
import { storeFixture } from '../helpers/store.js';

const feed = suite('console audit feed');
const stores = storeFixture(feed, 'console-feed');
const declared = () => new Set(['bill.create', 'payment.request']);

// A store that refused kiosk-01 once, closed and opened again: a gateway after a restart.
async function restartedAfterOneRefusal() {
  const dir = await stores.tempDir();
  const first = await stores.openStore(dir);
  await first.audit({ kind: 'gap.refused', device: 'kiosk-01', type: 'bill.create', code: 'FORBIDDEN_TYPE' });
  await first.close();
  return stores.openStore(dir);
}

feed('refusals appear newest first, with their code and a declared type only; no request id or path', async () => {
  const store = await stores.openStore(await stores.tempDir());
  const f = new AuditFeed(store, declared);
  await f.catchUp();
  await store.audit({ kind: 'gap.refused', device: 'kiosk-01', type: 'bill.create', code: 'FORBIDDEN_TYPE', id: 'req-P-1001', path: '/body/patientId' });
  await store.audit({ kind: 'gap.refused', device: 'kiosk-01', type: 'patient P-1001 says hi', code: 'UNKNOWN_TYPE' });
  await store.audit({ kind: 'acl.denied.publish', device: 'kiosk-02', reason: 'topic not allowed', topic: 'dept/P-1001/inbox' });
  await f.catchUp();
  const shown = f.recentRefusals().map(({ at: _at, ...r }) => r);
  assert.equal(shown, [
    { code: 'acl.denied.publish', device: 'kiosk-02', topicKind: 'dept/…', reason: 'topic not allowed' },
    { code: 'UNKNOWN_TYPE', device: 'kiosk-01', topicKind: '(undeclared type)' },
    { code: 'FORBIDDEN_TYPE', device: 'kiosk-01', topicKind: 'bill.create' },
  ]);
  assert.not.match(JSON.stringify(f.recentRefusals()), /P-1001/);
  assert.is(f.gapRefusalsOf('kiosk-01'), 2);
  assert.is(f.gapRefusalsOf('kiosk-02'), 0, 'broker denials are the roster\'s to count');
});

feed('the last rule reload and each department\'s last receiver report are remembered', async () => {
  const store = await stores.openStore(await stores.tempDir());
  const f = new AuditFeed(store, declared);
  await f.catchUp();
  assert.is(f.lastReload(), null);
  await store.audit({ kind: 'rules.reloaded', devices: 8, messages: 12, dropped: 1 });
  await store.audit({ kind: 'slots.applied', dept: 'INT', date: '2026-12-02', version: 3, device: 'receiver-01' });
  await store.audit({ kind: 'rules.reload_refused', problems: 'devices.yaml: line 3: bad\nmore' });
  await f.catchUp();
  assert.equal({ ...f.lastReload(), at: undefined }, { at: undefined, ok: false, problem: 'devices.yaml: line 3: bad' });
  assert.equal({ ...f.receiverReport('INT'), at: undefined }, { at: undefined, dept: 'INT', date: '2026-12-02', version: 3, device: 'receiver-01' });
  assert.is(f.receiverReport('PED'), undefined);
});

feed('after a restart the lists are seeded from the chain, the per-device counts start at zero', async () => {
  const store = await restartedAfterOneRefusal();
  const f = new AuditFeed(store, declared);
  await f.catchUp();
  assert.is(f.recentRefusals().length, 1);
  assert.is(f.gapRefusalsOf('kiosk-01'), 0);
});

feed('the list keeps the newest refusals only', async () => {
  const store = await stores.openStore(await stores.tempDir());
  const f = new AuditFeed(store, declared);
  await f.catchUp();
  for (let i = 0; i < CONSOLE_FEED_LIMITS.refusalsKept + 5; i++) await store.audit({ kind: 'gap.refused', device: `kiosk-${i}`, type: 'bill.create', code: 'SCHEMA' });
  await f.catchUp();
  assert.is(f.recentRefusals().length, CONSOLE_FEED_LIMITS.refusalsKept);
  assert.is(f.recentRefusals()[0]!.device, `kiosk-${CONSOLE_FEED_LIMITS.refusalsKept + 4}`);
});

feed('once seeded, each refusal is in the list as soon as its transaction is durable, without reading the chain again', async () => {
  const store = await stores.openStore(await stores.tempDir());
  const f = new AuditFeed(store, declared);
  await f.catchUp();
  await store.audit({ kind: 'gap.refused', device: 'kiosk-03', type: 'payment.request', code: 'SCHEMA' });
  assert.is(f.recentRefusals()[0]?.device, 'kiosk-03');
  assert.is(f.gapRefusalsOf('kiosk-03'), 1);
});

feed('entries that become durable while the seeding read runs are taken once, none lost', async () => {
  const store = await restartedAfterOneRefusal();
  const f = new AuditFeed(store, declared);
  const seeding = f.catchUp();
  await Promise.all([1, 2, 3].map((i) => store.audit({ kind: 'gap.refused', device: `kiosk-1${i}`, type: 'bill.create', code: 'SCHEMA' })));
  await seeding;
  await f.catchUp();
  assert.equal(f.recentRefusals().map((r) => r.device).sort(), ['kiosk-01', 'kiosk-11', 'kiosk-12', 'kiosk-13']);
  assert.is(f.gapRefusalsOf('kiosk-01'), 0, 'seeded from the chain: counted from the start only');
  assert.is(f.gapRefusalsOf('kiosk-12'), 1);
});

feed.run();

const history = suite('console history');

history('points every 10 s of the side\'s clock, rates over the last minute, an hour kept', async () => {
  const clock = new ManualClock();
  const reading: HistoryReading = { paid: 0, failed: 0, latency: { msSum: 0, count: 0 }, refusals: 0, openOrders: 0 };
  const h = new History(clock, async () => ({ ...reading }), (err) => { throw err; });
  h.start();
  await clock.advance(0);
  // Three payments answered in 2 s each and a refusal in the first 10 s, then nothing.
  Object.assign(reading, { paid: 3, latency: { msSum: 6_000, count: 3 }, refusals: 1, openOrders: 2 });
  await clock.advance(CONSOLE_HISTORY_LIMITS.everyMs);
  let last = h.recent().at(-1)!;
  assert.equal({ ...last, t: 0 }, { t: 0, paymentsPerMin: 3, failedPerMin: 0, latencyMs: 2_000, refusalsPerMin: 1, openOrders: 2 });
  await clock.advance(CONSOLE_HISTORY_LIMITS.rateWindowMs);
  last = h.recent().at(-1)!;
  assert.is(last.paymentsPerMin, 0, 'a minute later the rate is back to nothing');
  assert.is(last.latencyMs, null);
  assert.is(last.openOrders, 2, 'a level stays');
  // The outer side away: no latency; back after a restart, its totals start again.
  reading.latency = null;
  await clock.advance(CONSOLE_HISTORY_LIMITS.everyMs);
  assert.is(h.recent().at(-1)!.latencyMs, null);
  reading.latency = { msSum: 500, count: 1 };
  await clock.advance(CONSOLE_HISTORY_LIMITS.everyMs);
  assert.is(h.recent().at(-1)!.latencyMs, 500);
  await clock.advance(2 * 3_600_000);
  assert.is(h.recent().length, CONSOLE_HISTORY_LIMITS.points);
  const points = h.recent();
  assert.is(points.at(-1)!.t - points[0]!.t, (CONSOLE_HISTORY_LIMITS.points - 1) * CONSOLE_HISTORY_LIMITS.everyMs);
  h.close();
  assert.is(clock.pending, 0);
});

history.run();
