// A bill from the billing desk to the payment server and back: the foundation's path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestGateway, sampleItems, sampleTotal, type TestGateway } from './helpers/gateway.js';
import type { Reply } from '../devices/protocol.js';
import type { DeviceClient } from '../devices/client.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import { demoPassword } from '../sim/demo-devices.js';
import { freePort } from '../sim/gateway-processes.js';

let gw: TestGateway;
test.before(async () => {
  gw = await startTestGateway({ qrDelayMs: 150 });
});
test.after(async () => {
  await gw.close();
});

let refs = 0;
// One connection for the billing desk: a device id has one connection at a time, and a
// second one would take it over (and the first, reconnecting, take it back).
let billingDesk: DeviceClient | undefined;
async function billingDeskClient(): Promise<DeviceClient> {
  billingDesk ??= await gw.device('billing-01');
  return billingDesk;
}

async function createBill(patientId = 'P-1001') {
  const desk = await billingDeskClient();
  const reply = await desk.request('bill.create', { patientId, reference: `INV-${++refs}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  assert.is(reply.type, 'bill.created', JSON.stringify(reply.body));
  return { desk, billId: (reply.body as { billId: string }).billId };
}

test('a bill is created, found by the kiosk, paid with a wallet code, and the billing desk is told', async () => {
  const { desk, billId } = await createBill('P-2001');
  const kiosk = await gw.device('kiosk-01');
  const list = await kiosk.request('bill.query', { patientId: 'P-2001' });
  assert.is(list.type, 'bill.list');
  const bills = (list.body as { bills: Array<{ billId: string; total: number }> }).bills;
  assert.equal(bills.map((b) => b.billId), [billId]);
  assert.is(bills[0]!.total, sampleTotal);

  const paid = desk.waitFor((m: Reply) => m.type === 'bill.paid' && (m.body as { billId: string }).billId === billId, 10_000);
  const result = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
  assert.is(result.type, 'payment.result', JSON.stringify(result.body));
  const body = result.body as { status: string; orderId: string };
  assert.is(body.status, 'succeeded');
  await paid;
  assert.is(gw.sim.chargesFor(body.orderId), 1);

  const after = await kiosk.request('bill.query', { patientId: 'P-2001' });
  assert.equal((after.body as { bills: unknown[] }).bills, []);
});

test('scan-to-pay answers pending with a QR code, then the notification completes it', async () => {
  const { billId } = await createBill('P-2002');
  const kiosk = await gw.device('kiosk-02');
  const finalResult = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { status: string }).status === 'succeeded', 10_000);
  const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'qr' });
  const body = first.body as { status: string; qrCode?: string; orderId: string };
  assert.is(body.status, 'pending');
  assert.ok(body.qrCode, 'a QR code to show the patient');
  const done = await finalResult;
  assert.is((done.body as { orderId: string }).orderId, body.orderId);
  assert.is(gw.sim.chargesFor(body.orderId), 1);
});

test('a declined wallet code fails the payment and leaves the bill open to pay again', async () => {
  const { billId } = await createBill('P-2003');
  const kiosk = await gw.device('kiosk-01');
  const declined = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '120000' });
  assert.is((declined.body as { status: string }).status, 'failed');
  const retry = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '123456' });
  assert.is((retry.body as { status: string }).status, 'succeeded');
});

test('the same payment request resent gets the same answer and one charge', async () => {
  const { billId } = await createBill('P-2004');
  const kiosk = await gw.device('kiosk-01');
  const body = { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '223344' };
  const first = await kiosk.request('payment.request', body, { id: 'pay-2004' });
  const again = await kiosk.request('payment.request', body, { id: 'pay-2004' });
  assert.equal(again.body, first.body);
  assert.is(gw.sim.chargesFor((first.body as { orderId: string }).orderId), 1);
});

test('the same request id with another body is a conflict', async () => {
  const { billId } = await createBill('P-2005');
  const kiosk = await gw.device('kiosk-01');
  await kiosk.request('bill.query', { patientId: 'P-2005' }, { id: 'q-2005' });
  const conflict = await kiosk.request('bill.query', { patientId: 'P-9999' }, { id: 'q-2005' });
  assert.is(conflict.type, 'error');
  assert.is((conflict.body as { code: string }).code, 'CONFLICT');
  void billId;
});

test('paying a bill with any other amount is refused', async () => {
  const { billId } = await createBill('P-2006');
  const kiosk = await gw.device('kiosk-01');
  for (const amount of [sampleTotal - 1, sampleTotal + 1, 1]) {
    const reply = await kiosk.request('payment.request', { billId, amount, currency: 'CNY', method: 'code', authCode: '123456' });
    assert.is(reply.type, 'error');
    assert.is((reply.body as { code: string }).code, 'AMOUNT_MISMATCH');
    assert.is((reply.body as { path: string }).path, '/body/amount');
  }
  assert.is(gw.sim.totalCharges() >= 0, true);
});

test('a bill is never paid twice, even by two kiosks at once', async () => {
  const { billId } = await createBill('P-2007');
  const k1 = await gw.device('kiosk-01');
  const k2 = await gw.device('kiosk-02');
  const pay = (k: typeof k1) => k.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '123456' });
  const answers = await Promise.all([pay(k1), pay(k2)]);
  const succeeded = answers.filter((a) => a.type === 'payment.result' && (a.body as { status: string }).status === 'succeeded');
  const refused = answers.filter((a) => a.type === 'error' && (a.body as { code: string }).code === 'BILL_NOT_OPEN');
  assert.is(succeeded.length, 1);
  assert.is(refused.length, 1);
  const again = await pay(k1);
  assert.is((again.body as { code: string }).code, 'BILL_NOT_OPEN');
});

test('a bill whose items do not add up to its total is refused', async () => {
  const desk = await billingDeskClient();
  const reply = await desk.request('bill.create', { patientId: 'P-2008', reference: 'INV-BAD', items: sampleItems, total: sampleTotal + 100, currency: 'CNY' });
  assert.is(reply.type, 'error');
  assert.is((reply.body as { code: string }).code, 'TOTAL_MISMATCH');
});

// Last: it connects kiosk-02 itself, and a device id has one connection at a time.
test('a kiosk given the addresses of a dead box and of the live one connects to the live one and pays', async () => {
  const { billId } = await createBill('P-2009');
  const dead = `mqtt://127.0.0.1:${await freePort()}`; // nothing listens there: a standby or a box that is down
  const kiosk = await KioskSim.connect({ url: [dead, gw.mqttUrl], id: 'kiosk-02', password: demoPassword('kiosk-02')!, connectTimeoutMs: 10_000 });
  try {
    const outcome = await kiosk.payBill({ billId, amount: sampleTotal, method: 'code', authCode: '134568' });
    assert.is(outcome.reply.type, 'payment.result', JSON.stringify(outcome.reply.body));
    const body = outcome.reply.body as { status: string; orderId: string };
    assert.is(body.status, 'succeeded');
    assert.is(gw.sim.chargesFor(body.orderId), 1);
  } finally {
    await kiosk.close();
  }
});

test.run();
