// The payment-server simulator over real HTTP: it must be as strict as the real server,
// or the relay's tests prove nothing.
import { HospitalDay, TIME_ZONE_DEFAULT } from '../runtime/common/hospital-day.js';
import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signRequest } from '../runtime/common/signature.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';

const SECRET = 'sim-test-secret';

interface Reply { status: number; json: any }

function request(base: string, method: string, path: string, body = '', headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function signed(base: string, method: string, path: string, value?: object, extra: Record<string, string> = {}, nowSec?: number): Promise<Reply> {
  const body = value === undefined ? '' : JSON.stringify(value);
  return request(base, method, path, body, { ...signRequest(SECRET, method, path, body, nowSec), 'content-type': 'application/json', ...extra });
}

function pay(base: string, order: { orderId: string; amount: number; authCode?: string; method?: string; description?: string }): Promise<Reply> {
  const body = { currency: 'CNY', method: 'code', description: 'registration fee', authCode: '134567890123', ...order };
  return signed(base, 'POST', '/v1/payments', body, { 'idempotency-key': order.orderId });
}

let sim: PaymentServerSim;
let base: string;

test.before.each(async () => {
  sim = new PaymentServerSim();
  base = (await sim.start({ host: '127.0.0.1', port: 0, secret: SECRET, qrDelayMs: 50 })).url;
});

test.after.each(async () => {
  await sim.stop();
});

test('a request with a bad signature is refused with 401 and charges nothing', async () => {
  const body = JSON.stringify({ orderId: 'o-1', amount: 100, currency: 'CNY', method: 'code', description: 'x', authCode: '123456' });
  const headers = { ...signRequest('wrong-secret', 'POST', '/v1/payments', body), 'idempotency-key': 'o-1' };
  const reply = await request(base, 'POST', '/v1/payments', body, headers);
  assert.is(reply.status, 401);
  const unsigned = await request(base, 'POST', '/v1/payments', body, { 'idempotency-key': 'o-1' });
  assert.is(unsigned.status, 401);
  assert.is(sim.totalCharges(), 0);
});

test('a request signed beyond the tolerance is refused with 401', async () => {
  const reply = await signed(base, 'GET', '/v1/payments/o-1', undefined, {}, Math.floor(Date.now() / 1000) - 3_600);
  assert.is(reply.status, 401);
});

test('a replayed request (the same signature again within the tolerance) is refused with 401 REPLAYED and charges nothing more', async () => {
  const body = JSON.stringify({ orderId: 'o-rp', amount: 700, currency: 'CNY', method: 'code', description: 'x', authCode: '123456' });
  const headers = { ...signRequest(SECRET, 'POST', '/v1/payments', body), 'idempotency-key': 'o-rp', 'content-type': 'application/json' };
  assert.is((await request(base, 'POST', '/v1/payments', body, headers)).status, 200);
  assert.equal(await request(base, 'POST', '/v1/payments', body, headers), { status: 401, json: { error: 'REPLAYED' } });
  assert.is(sim.requestsFor('o-rp'), 1, 'the replay never reached the payment logic');
  // The same request signed again (a fresh nonce) in the same second is a new attempt.
  const again = await pay(base, { orderId: 'o-rp', amount: 700, authCode: '123456', description: 'x' });
  assert.equal(again, { status: 200, json: { orderId: 'o-rp', status: 'succeeded', amount: 700 } });
  assert.is(sim.chargesFor('o-rp'), 1);
  assert.is(sim.replayedCount(), 1);
});

test('a wallet-code payment succeeds and is charged once', async () => {
  const reply = await pay(base, { orderId: 'o-2', amount: 1500 });
  assert.equal(reply, { status: 200, json: { orderId: 'o-2', status: 'succeeded', amount: 1500 } });
  assert.is(sim.chargesFor('o-2'), 1);
});

test('a wallet code ending in 0000 is declined without a charge', async () => {
  const reply = await pay(base, { orderId: 'o-3', amount: 1500, authCode: '123450000' });
  assert.equal(reply.json, { orderId: 'o-3', status: 'failed', amount: 1500, reason: 'declined' });
  assert.is(sim.chargesFor('o-3'), 0);
});

test('the same idempotency key with another body is answered 409', async () => {
  await pay(base, { orderId: 'o-4', amount: 1500 });
  const reply = await pay(base, { orderId: 'o-4', amount: 1600 });
  assert.equal(reply, { status: 409, json: { error: 'IDEMPOTENCY_CONFLICT' } });
  assert.is(sim.chargesFor('o-4'), 1);
});

test('the same idempotency key with the same body gets the stored answer and no new charge', async () => {
  const first = await pay(base, { orderId: 'o-5', amount: 900 });
  const second = await pay(base, { orderId: 'o-5', amount: 900 });
  assert.equal(second, first);
  assert.is(sim.chargesFor('o-5'), 1);
  assert.is(sim.requestsFor('o-5'), 2);
});

test('an idempotency key other than the order id is refused', async () => {
  const body = { orderId: 'o-6', amount: 900, currency: 'CNY', method: 'code', description: 'x', authCode: '123456' };
  const reply = await signed(base, 'POST', '/v1/payments', body, { 'idempotency-key': 'o-other' });
  assert.is(reply.status, 400);
  assert.is(sim.totalCharges(), 0);
});

test('a payment with a field the contract does not name is refused', async () => {
  const body = { orderId: 'o-7', amount: 900, currency: 'CNY', method: 'code', description: 'x', authCode: '123456', patientId: 'p-1' };
  const reply = await signed(base, 'POST', '/v1/payments', body, { 'idempotency-key': 'o-7' });
  assert.is(reply.status, 400);
});

test('a status query for an order never seen is answered 404 NOT_FOUND', async () => {
  const reply = await signed(base, 'GET', '/v1/payments/o-never');
  assert.equal(reply, { status: 404, json: { error: 'NOT_FOUND' } });
});

test('a status query percent-encodes the order id, as the relay sends it, and finds the payment', async () => {
  await pay(base, { orderId: 'kiosk:7', amount: 700 });
  const found = await signed(base, 'GET', `/v1/payments/${encodeURIComponent('kiosk:7')}`);
  assert.is(found.status, 200);
  assert.is(found.json.orderId, 'kiosk:7');
  assert.is((await signed(base, 'GET', '/v1/payments/%E0%A4%A')).status, 400, 'a malformed escape');
});

test('a scan-to-pay is pending with a QR code, then succeeds and is charged once', async () => {
  const reply = await pay(base, { orderId: 'o-8', amount: 2000, method: 'qr', authCode: undefined as unknown as string });
  assert.is(reply.json.status, 'pending');
  assert.type(reply.json.qrCode, 'string');
  for (let i = 0; i < 200 && sim.chargesFor('o-8') === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const status = await signed(base, 'GET', '/v1/payments/o-8');
  assert.equal(status.json, { orderId: 'o-8', status: 'succeeded', amount: 2000 });
  assert.is(sim.chargesFor('o-8'), 1);
});

test('refunds never exceed what was paid', async () => {
  await pay(base, { orderId: 'o-9', amount: 1000 });
  const refund = (refundId: string, amount: number) => signed(base, 'POST', '/v1/refunds',
    { refundId, orderId: 'o-9', amount, currency: 'CNY', reason: 'cancelled' }, { 'idempotency-key': refundId });
  assert.is((await refund('r-1', 600)).json.status, 'succeeded');
  const over = await refund('r-2', 600);
  assert.equal(over.json, { refundId: 'r-2', orderId: 'o-9', status: 'failed', amount: 600, reason: 'exceeds_paid' });
  assert.is((await refund('r-3', 400)).json.status, 'succeeded');
  assert.is((await refund('r-1', 600)).json.status, 'succeeded', 'a repeated refund gets its stored answer');
  assert.is(sim.payments().find((p) => p.orderId === 'o-9')!.refunded, 1000);
});

test("the day's statement lists its payments and refunds", async () => {
  await pay(base, { orderId: 'o-10', amount: 1000 });
  await pay(base, { orderId: 'o-11', amount: 500, authCode: '990000' });
  await signed(base, 'POST', '/v1/refunds', { refundId: 'r-10', orderId: 'o-10', amount: 300, currency: 'CNY', reason: 'x' }, { 'idempotency-key': 'r-10' });
  const today = new HospitalDay(TIME_ZONE_DEFAULT).dayOf(Date.now()); // the simulator bills by the hospital's day
  const reply = await signed(base, 'GET', `/v1/statements/${today}`);
  assert.is(reply.status, 200);
  assert.equal(reply.json.payments.map((p: any) => [p.orderId, p.status]), [['o-10', 'succeeded'], ['o-11', 'failed']]);
  assert.equal(reply.json.refunds.map((r: any) => [r.refundId, r.amount]), [['r-10', 300]]);
  const other = await signed(base, 'GET', '/v1/statements/2001-01-01');
  assert.equal(other.json, { date: '2001-01-01', payments: [], refunds: [] });
});

test('a down server refuses connections and serves again when brought back', async () => {
  await sim.setFaults({ down: true });
  try {
    await signed(base, 'GET', '/v1/payments/o-x');
    assert.unreachable('connect should fail');
  } catch (err) {
    assert.is((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  }
  await sim.setFaults({ down: false });
  assert.is((await signed(base, 'GET', '/v1/payments/o-x')).status, 404);
});

test('an error-rate fault answers 500 without charging', async () => {
  await sim.setFaults({ errorRate: 1 });
  const reply = await pay(base, { orderId: 'o-12', amount: 100 });
  assert.is(reply.status, 500);
  assert.is(sim.chargesFor('o-12'), 0);
});

test('the control API reports state and sets faults from loopback', async () => {
  await pay(base, { orderId: 'o-13', amount: 100 });
  const state = await request(base, 'GET', '/_sim/state');
  assert.is(state.status, 200);
  assert.is(state.json.totalCharges, 1);
  assert.equal(state.json.charges, { 'o-13': 1 });
  assert.is(state.json.payments[0].authCode, undefined, 'wallet codes are not shown');
  const set = await request(base, 'POST', '/_sim/faults', JSON.stringify({ errorRate: 1 }));
  assert.is(set.json.faults.errorRate, 1);
  assert.is((await pay(base, { orderId: 'o-14', amount: 100 })).status, 500);
  const bad = await request(base, 'POST', '/_sim/faults', JSON.stringify({ nonsense: 1 }));
  assert.is(bad.status, 400);
});

test.run();
