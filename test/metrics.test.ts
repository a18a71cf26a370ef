// One scrape target for both sides (README.md, "Operating Ferry"): the inner side's
// GET /metrics counts what the gateway did, with the outer side's figures carried over
// the channel, and /healthz and /readyz say what is up. A real gateway, real broker,
// real HTTP; the outer side reports every 100 ms here instead of every 5 s.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestGateway, sampleItems, sampleTotal, waitFor, type TestGateway } from './helpers/gateway.js';
import { managementUrl, payBill } from './helpers/management.js';
import { scrape, type Scrape } from './helpers/prometheus.js';
import type { Reply } from '../devices/protocol.js';
import { buildInfo } from '../runtime/common/build-info.js';

let gw: TestGateway;
test.before(async () => {
  gw = await startTestGateway({ qrDelayMs: 100, outerTuning: { metricsIntervalMs: 100 } });
});
test.after(async () => {
  await gw.close();
});

async function get(route: string, token?: string): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${managementUrl(gw)}${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

// Scrapes until `ready` holds of the scrape (the outer side's figures come every 100 ms).
async function scrapeUntil(ready: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  let last: Scrape | undefined;
  await waitFor(async () => ready((last = await scrape(gw))), 5000, what);
  return last!;
}

let refs = 0;
async function qrPayment(patientId: string): Promise<void> {
  const desk = await gw.device('billing-01');
  const created = await desk.request('bill.create', { patientId, reference: `M-QR-${++refs}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  const billId = (created.body as { billId: string }).billId;
  const kiosk = await gw.device('kiosk-02');
  const done = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { status: string }).status === 'succeeded', 10_000);
  const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'qr' });
  assert.is((first.body as { status: string }).status, 'pending');
  await done;
}

test('a scrape after a paid bill, a refused message and a scan-to-pay shows the counters moved by exactly those amounts', async () => {
  const before = await scrapeUntil((s) => s.value('ferry_outer_up') === 1, 'the outer side reported');
  await payBill(gw, 'P-M-1'); // bill.create, payment.request (code)
  const kiosk = await gw.device('kiosk-01');
  const refused = await kiosk.request('bill.query', {}); // no patientId: SCHEMA
  assert.is(refused.type, 'error');
  assert.is((refused.body as { code: string }).code, 'SCHEMA');
  await qrPayment('P-M-2'); // bill.create, payment.request (qr), then a signed notification
  const after = await scrapeUntil((s) => s.value('ferry_notifications_accepted_total') > before.value('ferry_notifications_accepted_total'), 'the notification counted');

  const moved = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
  assert.is(moved('ferry_gap_accepted_total', { type: 'bill.create' }), 2);
  assert.is(moved('ferry_gap_accepted_total', { type: 'payment.request' }), 2);
  assert.is(moved('ferry_gap_accepted_total'), 4);
  assert.is(moved('ferry_gap_refused_total', { type: 'bill.query', code: 'SCHEMA' }), 1);
  assert.is(moved('ferry_gap_refused_total'), 1);
  assert.is(moved('ferry_payments_accepted_total', { method: 'code' }), 1);
  assert.is(moved('ferry_payments_accepted_total', { method: 'qr' }), 1);
  assert.is(moved('ferry_payments_total', { method: 'code', status: 'succeeded' }), 1);
  assert.is(moved('ferry_payments_total', { method: 'qr', status: 'succeeded' }), 1);
  assert.is(moved('ferry_payments_total', { status: 'failed' }), 0);
  assert.is(moved('ferry_mqtt_messages_received_total'), 5);
  assert.is(moved('ferry_notifications_accepted_total'), 1);
  assert.is(moved('ferry_payment_server_request_duration_seconds', { operation: 'payment' }), 2);
  assert.is(after.value('ferry_orders_open'), 0);
  assert.is(after.value('ferry_orders_oldest_open_age_seconds'), 0);
  assert.ok(moved('ferry_mqtt_messages_sent_total') >= 5, 'answers, the QR result and bill.paid went out');
  assert.ok(after.value('ferry_audit_entries') > before.value('ferry_audit_entries'), 'the audit chain grew');
  assert.ok(moved('ferry_store_commit_duration_seconds') >= 1, 'batches were synced');

  // Text format, prom-client's content type; every family has a type and help.
  assert.match(after.contentType, /^text\/plain; version=0\.0\.4/);
  for (const family of after.families.values()) {
    assert.ok(family.name.startsWith('ferry_'), family.name);
    assert.ok(family.help.length > 0, `${family.name} has help`);
  }
  assert.equal(after.samples('ferry_devices_connected', { role: 'kiosk' }).map((s) => Number(s.value)), [2]);
  assert.equal(after.samples('ferry_process_uptime_seconds').map((s) => s.labels?.side).sort(), ['inner', 'outer']);
  // No label carries a patient, an order or a device id.
  assert.not.match(after.text, /P-M-|B20|P20|kiosk-0|billing-0/);
});

test('the outer side\'s refusals by reason and its payment latency histogram show up in the inner side\'s scrape', async () => {
  const before = await scrapeUntil((s) => s.value('ferry_outer_up') === 1, 'the outer side reported');
  // An unsigned notification: the outer side refuses it with SIGNATURE_MISSING.
  const res = await fetch(gw.notifyUrl(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await res.arrayBuffer();
  assert.is(res.status, 401);
  const reason = { reason: 'SIGNATURE_MISSING' };
  const after = await scrapeUntil((s) => s.value('ferry_notifications_refused_total', reason) > before.value('ferry_notifications_refused_total', reason), 'the refusal counted');
  assert.is(after.value('ferry_notifications_refused_total', reason) - before.value('ferry_notifications_refused_total', reason), 1);
  assert.is(after.value('ferry_notifications_refused_total', { reason: 'BAD_SIGNATURE' }), before.value('ferry_notifications_refused_total', { reason: 'BAD_SIGNATURE' }));

  const [histogram] = after.samples('ferry_payment_server_request_duration_seconds', { operation: 'payment' });
  assert.ok(histogram?.buckets, 'a histogram with buckets');
  const counts = Object.entries(histogram.buckets).sort(([a], [b]) => Number(a) - Number(b)).map(([, c]) => Number(c));
  assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), 'buckets are cumulative');
  assert.ok(Number(histogram.count) >= 2, 'the payments of the first test were timed');
  assert.ok(Number(histogram.sum) > 0, 'they took some time');
  assert.equal(after.samples('ferry_payment_server_breaker_state', { state: 'closed' }).map((s) => Number(s.value)), [1]);
  assert.is(after.families.get('ferry_payment_server_request_duration_seconds')?.type, 'HISTOGRAM');
});

test('/readyz is 503 naming the channel while the outer side is down, and 200 again when it is back; /healthz is 200; /metrics needs the read token', async () => {
  assert.is((await get('/healthz')).status, 200);
  const unauthorized = await get('/metrics');
  assert.is(unauthorized.status, 401);
  assert.is(unauthorized.json.error, 'UNAUTHORIZED');
  assert.is(unauthorized.headers.get('www-authenticate'), 'Bearer');
  assert.is((await get('/metrics', 'not-the-token')).status, 401);

  await waitFor(async () => (await get('/readyz')).status === 200, 5000, 'ready');
  const ready = await get('/readyz');
  assert.equal({ version: ready.json.version, commit: ready.json.commit, node: ready.json.node }, { ...buildInfo(), node: process.versions.node }, 'it names the build that answers');
  assert.equal(ready.json.checks.map((c: { side: string; name: string }) => `${c.side}.${c.name}`),
    ['inner.store', 'inner.broker', 'inner.channel', 'inner.rules', 'outer.channel', 'outer.report', 'outer.notify', 'outer.breaker']);

  await gw.stopOuter();
  try {
    await waitFor(async () => (await get('/readyz')).status === 503, 5000, 'not ready');
    const down = await get('/readyz');
    assert.is(down.status, 503);
    assert.is(down.json.error, 'NOT_READY');
    assert.is(down.json.version, buildInfo().version);
    assert.ok(down.json.notReady.includes('inner.channel'), JSON.stringify(down.json.notReady));
    assert.ok(down.json.notReady.includes('outer.channel'), JSON.stringify(down.json.notReady));
    assert.is((await get('/readyz/inner')).status, 503);
    assert.is((await get('/readyz/outer')).status, 503);
    assert.is((await get('/healthz')).status, 200);
    // The outer side's figures are not shown as live while it is away.
    const s = await scrape(gw);
    assert.is(s.value('ferry_outer_up'), 0);
    assert.not.ok(s.has('ferry_payment_server_request_duration_seconds'), 'no stale latency');
    assert.not.ok(s.has('ferry_notifications_refused_total'), 'no stale refusals');
    assert.equal(s.samples('ferry_process_uptime_seconds').map((x) => x.labels?.side), ['inner']);
  } finally {
    await gw.startOuter();
  }
  await waitFor(async () => (await get('/readyz')).status === 200, 5000, 'ready again');
  const inner = await get('/readyz/inner');
  assert.is(inner.status, 200);
  assert.ok(inner.json.checks.every((c: { side: string }) => c.side === 'inner'));
});

test('while the payment server is down the scrape shows the open breaker, the errors by kind and the waiting order, and /readyz/outer names the breaker', async () => {
  const down = await startTestGateway({
    replyWaitMs: 300,
    outerTuning: { metricsIntervalMs: 100, breakerFailureThreshold: 2, breakerCoolDownMs: 500, retryBaseMs: 20, retryMaxMs: 50 },
  });
  const scrapeDown = async (ready: (s: Scrape) => boolean, what: string): Promise<Scrape> => {
    let last: Scrape | undefined;
    await waitFor(async () => ready((last = await scrape(down))), 10_000, what);
    return last!;
  };
  const ready = async (route: string) => {
    const res = await fetch(`${managementUrl(down)}${route}`, { signal: AbortSignal.timeout(30_000) });
    return { status: res.status, json: await res.json() as { notReady?: string[] } };
  };
  try {
    await down.sim.setFaults({ down: true });
    const desk = await down.device('billing-01');
    const created = await desk.request('bill.create', { patientId: 'P-M-3', reference: 'M-DOWN-1', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (created.body as { billId: string }).billId;
    const kiosk = await down.device('kiosk-01');
    const paid = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { status: string }).status === 'succeeded', 20_000);
    const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
    assert.is((first.body as { status: string }).status, 'pending');

    const open = await scrapeDown((s) => s.value('ferry_payment_server_breaker_state', { state: 'open' }) === 1, 'the breaker open');
    assert.ok(open.value('ferry_payment_server_errors_total', { kind: 'network' }) >= 2, 'the refused connections counted as network errors');
    assert.is(open.value('ferry_payment_server_errors_total', { kind: 'timeout' }), 0);
    assert.is(open.value('ferry_orders_open'), 1);
    assert.ok(open.value('ferry_orders_oldest_open_age_seconds') > 0, 'the waiting order has an age');
    const outer = await ready('/readyz/outer');
    assert.is(outer.status, 503);
    assert.equal(outer.json.notReady, ['outer.breaker']);
    assert.is((await ready('/readyz/inner')).status, 200, 'the inner side is ready: the order waits in the journal');

    await down.sim.setFaults({ down: false });
    await paid;
    const closed = await scrapeDown((s) => s.value('ferry_payment_server_breaker_state', { state: 'closed' }) === 1 && s.value('ferry_orders_open') === 0, 'the breaker closed');
    assert.is(closed.value('ferry_payments_total', { method: 'code', status: 'succeeded' }), 1);
    assert.is(closed.value('ferry_orders_oldest_open_age_seconds'), 0);
    assert.is((await ready('/readyz')).status, 200);
  } finally {
    await down.close();
  }
});

test.run();
