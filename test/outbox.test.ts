// The outbox: what a device is told unasked (bill.paid, a late payment.result) waits in
// the store until the device acknowledges it, and reaches a device that was away when
// it was decided, once, however often it is delivered.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { DeviceClient } from '../devices/client.js';
import type { Reply } from '../devices/protocol.js';
import { demoPassword } from '../sim/demo-devices.js';
import { openTestStore, removeStoreArtefacts } from './helpers/store-backend.js';
import { outboxPrefix, type OutboxEntry } from '../runtime/inner/outbox/records.js';
import { copyRules, LOAD_RATE, quietLog, sampleItems, sampleTotal, startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { processGatewayWithSim } from './helpers/processes.js';

const WAIT_MS = 10_000;

// Connects the device and records every down message it keeps, from the very first. With
// dropFirst, the first matching message is never acknowledged: the link drops before
// MQTT.js sends the PUBACK, so the gateway must deliver it again. The drop is decided
// inside connect(), since the outbox may arrive in the same read as the SUBACK.
async function listening(url: string, id: string, dropFirst?: (m: Reply) => boolean): Promise<{ client: DeviceClient; messages: Reply[] }> {
  const messages: Reply[] = [];
  let dropped = false;
  const onMessage = (m: Reply, client: DeviceClient): void => {
    messages.push(m);
    if (dropFirst && !dropped && dropFirst(m)) {
      dropped = true;
      client.dropLink();
    }
  };
  const client = await DeviceClient.connect({ url, id, password: demoPassword(id)!, onMessage });
  return { client, messages };
}

async function pending(gw: TestGateway, device: string): Promise<OutboxEntry[]> {
  return (await gw.inner.store.list<OutboxEntry>(outboxPrefix(device))).map(([, e]) => e);
}

test('a billing desk that is disconnected when its bill is paid receives bill.paid when it reconnects, exactly once from its point of view (dedupe by message id)', async () => {
  const gw = await startTestGateway();
  try {
    const desk = await gw.device('billing-01');
    const created = await desk.request('bill.create', { patientId: 'P-OB1', reference: 'OB-1', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (created.body as { billId: string }).billId;
    await desk.close();

    const kiosk = await gw.device('kiosk-01');
    const paid = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
    assert.is((paid.body as { status: string }).status, 'succeeded');
    const waiting = await pending(gw, 'billing-01');
    assert.equal(waiting.map((e) => [e.type, (e.body as { billId: string }).billId]), [['bill.paid', billId]], 'kept for the desk');

    const isPaid = (m: Reply) => m.type === 'bill.paid' && (m.body as { billId: string }).billId === billId;
    const back = await listening(gw.mqttUrl, 'billing-01', isPaid);
    await waitFor(() => back.client.duplicateMessages >= 1, WAIT_MS, 'the unacknowledged copy delivered again');
    await waitFor(async () => (await pending(gw, 'billing-01')).length === 0, WAIT_MS, 'the acknowledged message removed');
    assert.is(back.messages.filter(isPaid).length, 1, 'seen once');
    assert.is(back.messages.find(isPaid)!.id, waiting[0]!.messageId, 'under its outbox message id');
    await back.client.close();

    const again = await listening(gw.mqttUrl, 'billing-01');
    await again.client.request('bill.status', { billId }); // a round trip after the subscription
    assert.is(again.messages.filter(isPaid).length, 0, 'not sent again once acknowledged');
    await again.client.close();
  } finally {
    await gw.close();
  }
});

test('a kiosk that goes away before a scan-to-pay completes gets the final payment.result when it comes back', async () => {
  const gw = await startTestGateway({ qrDelayMs: 600 });
  try {
    const desk = await gw.device('billing-01');
    const created = await desk.request('bill.create', { patientId: 'P-OB2', reference: 'OB-2', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (created.body as { billId: string }).billId;

    const kiosk = await gw.device('kiosk-02');
    const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'qr' }, { id: 'qr-away-1' });
    const { status, orderId, qrCode } = first.body as { status: string; orderId: string; qrCode?: string };
    assert.is(status, 'pending');
    assert.ok(qrCode, 'a QR code to show');
    await kiosk.close();

    await waitFor(async () => (await gw.inner.payments.order(orderId)).status === 'succeeded', WAIT_MS, 'the patient paid');
    const back = await listening(gw.mqttUrl, 'kiosk-02');
    await waitFor(() => back.messages.some((m) => m.type === 'payment.result'), WAIT_MS, 'the final result');
    const result = back.messages.find((m) => m.type === 'payment.result')!;
    assert.is(result.re, 'qr-away-1', 'names the request it answers');
    assert.equal(result.body, { orderId, billId, amount: sampleTotal, currency: 'CNY', status: 'succeeded' });
    await waitFor(async () => (await pending(gw, 'kiosk-02')).length === 0, WAIT_MS, 'acknowledged');
    await back.client.close();
  } finally {
    await gw.close();
  }
});

test('a kiosk waiting for its payment gets the result as its answer, not also from the outbox', async () => {
  const gw = await startTestGateway();
  try {
    const desk = await gw.device('billing-01');
    const created = await desk.request('bill.create', { patientId: 'P-OB3', reference: 'OB-3', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (created.body as { billId: string }).billId;
    const kiosk = await listening(gw.mqttUrl, 'kiosk-01');
    const answer = await kiosk.client.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
    assert.is((answer.body as { status: string }).status, 'succeeded');
    await kiosk.client.request('bill.query', { patientId: 'P-OB3' }); // a round trip
    assert.is(kiosk.messages.filter((m) => m.type === 'payment.result').length, 1);
    assert.equal(await pending(gw, 'kiosk-01'), []);
    await kiosk.client.close();
  } finally {
    await gw.close();
  }
});

test('a listening desk gets every bill.paid as it is decided, also one decided after the clock was set back a day, and its outbox empties', async () => {
  let offsetMs = 0;
  const gw = await startTestGateway({ now: () => new Date(Date.now() + offsetMs) });
  try {
    const desk = await listening(gw.mqttUrl, 'billing-01');
    const kiosk = await gw.device('kiosk-01');
    const pay = async (n: number): Promise<string> => {
      const created = await desk.client.request('bill.create', { patientId: 'P-OB5', reference: `OB-5-${n}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
      const billId = (created.body as { billId: string }).billId;
      const paid = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
      assert.is((paid.body as { status: string }).status, 'succeeded');
      return billId;
    };
    const told = (billId: string) => desk.messages.some((m) => m.type === 'bill.paid' && (m.body as { billId: string }).billId === billId);
    const bills: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const billId = await pay(n);
      bills.push(billId);
      await waitFor(() => told(billId), WAIT_MS, `bill.paid for bill ${n}`);
    }
    offsetMs = -86_400_000; // its message id, and so its outbox key, sorts below the ones sent
    const late = await pay(4);
    await waitFor(() => told(late), WAIT_MS, 'bill.paid for the bill paid after the clock went back');
    offsetMs = 0;
    const after = await pay(5);
    await waitFor(() => told(after), WAIT_MS, 'bill.paid once the clock is right again');
    await waitFor(async () => (await pending(gw, 'billing-01')).length === 0, WAIT_MS, 'every message acknowledged and removed');
    assert.is(desk.messages.filter((m) => m.type === 'bill.paid').length, 5, 'each once');
    await desk.client.close();
  } finally {
    await gw.close();
  }
});

test('bill.paid reaches a desk that was away even across a kill -9 of the inner process, once from its point of view', async () => {
  const rulesDir = copyRules({ rate: LOAD_RATE });
  const { sim, gw, dataDir } = await processGatewayWithSim({ rulesDir, dataName: 'outbox-crash' });
  const clients: DeviceClient[] = [];
  try {
    await gw.startInner();
    await gw.startOuter();
    const desk = await DeviceClient.connect({ url: gw.mqttUrl, id: 'billing-01', password: demoPassword('billing-01')! });
    const created = await desk.request('bill.create', { patientId: 'P-OB4', reference: 'OB-4', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (created.body as { billId: string }).billId;
    await desk.close();
    const kiosk = await DeviceClient.connect({ url: gw.mqttUrl, id: 'kiosk-01', password: demoPassword('kiosk-01')! });
    clients.push(kiosk);
    const paid = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' }, { timeoutMs: 10_000 });
    assert.is((paid.body as { status: string }).status, 'succeeded');
    await kiosk.close();

    await gw.kill('inner', 'SIGKILL');
    await gw.startInner();

    const isPaid = (m: Reply) => m.type === 'bill.paid' && (m.body as { billId: string }).billId === billId;
    const back = await listening(gw.mqttUrl, 'billing-01', isPaid);
    clients.push(back.client);
    await waitFor(() => back.client.duplicateMessages >= 1, WAIT_MS, 'the unacknowledged copy delivered again');
    await back.client.request('bill.status', { billId }, { timeoutMs: 10_000 });
    assert.is(back.messages.filter(isPaid).length, 1, 'seen once');
    await back.client.close();

    await gw.stop();
    const store = await openTestStore(dataDir, quietLog);
    try {
      assert.equal(await store.list(outboxPrefix('billing-01')), [], 'acknowledged, so gone');
    } finally {
      await store.close();
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await gw.stop();
    await sim.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    removeStoreArtefacts(dataDir);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
});

test.run();
