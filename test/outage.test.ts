// Invariant 1 through an outage of the payment server, and the unknown outcome: a
// charge whose answer never came back is resolved by asking, never charged again.
// The gateway runs on a clock five times faster than real time, so that the breaker's
// 10 s cool-down and the relay's backoff pass in a fifth of the time; the payment
// server (its held answers) and the payment timeout stay on real time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { ScaledClock } from '../runtime/common/clock.js';
import { copyRules, LOAD_RATE, startTestGateway, sampleItems, sampleTotal, waitFor, type TestGateway } from './helpers/gateway.js';
import type { Reply } from '../devices/protocol.js';
import type { DeviceClient } from '../devices/client.js';

const SPEED = 5;
const clock = new ScaledClock(SPEED);
let gw: TestGateway;
let rulesDir: string;
test.before(async () => {
  rulesDir = copyRules({ rate: LOAD_RATE });
  gw = await startTestGateway({ rulesDir, replyWaitMs: 500, paymentTimeoutMs: 700, clock });
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

async function bills(desk: DeviceClient, prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = await desk.request('bill.create', { patientId: `P-${prefix}${i}`, reference: `${prefix}-${i}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
    assert.is(r.type, 'bill.created', JSON.stringify(r.body));
    ids.push((r.body as { billId: string }).billId);
  }
  return ids;
}

test('with the payment server down, 50 payments are told pending, then all succeed once it is back, each charged once', async () => {
  const desk = await gw.device('billing-01');
  const kiosk = await gw.device('kiosk-01');
  const billIds = await bills(desk, 'OUT', 50);
  gw.sim.setFaults({ down: true });

  const finals = new Map<string, string>();
  kiosk.on('message', (m: Reply) => {
    const b = m.body as { orderId?: string; status?: string };
    if (m.type === 'payment.result' && b.orderId && b.status !== 'pending') finals.set(b.orderId, b.status!);
  });
  const answers = await Promise.all(billIds.map((billId) => kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '778899' })));
  const orderIds = answers.map((a) => {
    assert.is(a.type, 'payment.result', JSON.stringify(a.body));
    assert.is((a.body as { status: string }).status, 'pending');
    return (a.body as { orderId: string }).orderId;
  });
  assert.is(gw.sim.totalCharges(), 0);

  gw.sim.setFaults({ down: false });
  await waitFor(() => orderIds.every((id) => finals.get(id) === 'succeeded'), 60_000, 'all 50 payments to succeed');
  for (const id of orderIds) assert.is(gw.sim.chargesFor(id), 1, `${id} charged once`);
  assert.is(gw.sim.totalCharges(), 50);
});

test('with the outer side down, payments are accepted into the journal and told pending, then complete', async () => {
  const desk = await gw.device('billing-01');
  const kiosk = await gw.device('kiosk-02');
  const billIds = await bills(desk, 'OUTER', 5);
  await gw.stopOuter();
  const answers = await Promise.all(billIds.map((billId) => kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '665544' })));
  const orderIds = answers.map((a) => (a.body as { orderId: string; status: string }));
  assert.ok(orderIds.every((o) => o.status === 'pending'));
  const finals = new Set<string>();
  kiosk.on('message', (m: Reply) => {
    const b = m.body as { orderId?: string; status?: string };
    if (m.type === 'payment.result' && b.status === 'succeeded') finals.add(b.orderId!);
  });
  await gw.startOuter();
  await waitFor(() => orderIds.every((o) => finals.has(o.orderId)), 30_000, 'the journal to drain');
  for (const o of orderIds) assert.is(gw.sim.chargesFor(o.orderId), 1);
});

test('a charge whose answer times out is resolved by the status query, with no second charge', async () => {
  const desk = await gw.device('billing-01');
  const kiosk = await gw.device('kiosk-01');
  const [billId] = await bills(desk, 'UNK', 1);
  gw.sim.setFaults({ timeoutAfterCharge: 1, holdMs: 2000 });
  const final = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { billId: string; status: string }).billId === billId && (m.body as { status: string }).status !== 'pending', 30_000);
  const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '445566' });
  const orderId = (first.body as { orderId: string }).orderId;
  const done = await final;
  assert.is((done.body as { status: string }).status, 'succeeded');
  assert.is(gw.sim.chargesFor(orderId), 1);
  gw.sim.setFaults({ timeoutAfterCharge: 0 });
});

test.run();
