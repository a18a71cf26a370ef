// The device client against a real Aedes broker on a real socket, with a responder
// that drops the first copy of every request: what a lossy link does to a kiosk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { DeviceClient, DeviceClientError, SEEN_IDS_MAX } from '../devices/client.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import { BillingDeskSim } from '../sim/devices/billing-desk.js';
import { parseUpTopic, topics, type Reply } from '../devices/protocol.js';
import { connectOptions, UsageError } from '../sim/devices/cli-support.js';

const CREDENTIALS: Record<string, string> = {
  'dev-a': 'secret-a',
  'dev-b': 'secret-b',
  responder: 'secret-responder',
};

// Request types the responder never answers.
const SILENT_TYPE = 'silent.request';

interface Ctx {
  broker: Aedes;
  server: net.Server;
  url: string;
  responder: MqttClient;
  copies: Map<string, number>; // request id -> copies seen
  clients: DeviceClient[];
}
const ctx = {} as Ctx;

async function connectDevice(id = 'dev-a', password = CREDENTIALS[id]): Promise<DeviceClient> {
  const client = await DeviceClient.connect({ url: ctx.url, id, password, connectTimeoutMs: 5_000 });
  ctx.clients.push(client);
  return client;
}

function respond(topic: string, payload: Buffer): void {
  const up = parseUpTopic(topic);
  if (!up || up.type === SILENT_TYPE) return;
  const request = JSON.parse(payload.toString('utf8')) as { id: string; type: string; body: Record<string, unknown> };
  const seen = (ctx.copies.get(request.id) ?? 0) + 1;
  ctx.copies.set(request.id, seen);
  if (seen < 2) return; // the first copy is "lost"
  const answer = up.type === 'payment.request'
    ? paymentAnswer(up.deviceId, request, seen)
    : { type: `${up.type}.ok`, body: { echo: request.body, copy: seen } };
  sendDown(up.deviceId, { id: `r-${request.id}-${seen}`, re: request.id, ...answer });
}

function sendDown(deviceId: string, message: Record<string, unknown>): void {
  ctx.responder.publish(topics.down(deviceId), JSON.stringify({ v: 1, ...message }), { qos: 1 });
}

// Like the gateway: a payment is pending at first. Bill B-PUSH is completed by a final
// message pushed on the down topic; for bill B-LOST that message is lost and only a
// re-ask (the same request id, from the fourth copy on) learns the outcome.
function paymentAnswer(deviceId: string, request: { id: string; body: Record<string, unknown> }, copy: number) {
  const billId = request.body.billId as string;
  const result = (status: string) => ({ orderId: `O-${billId}`, billId, amount: request.body.amount, currency: 'CNY', status });
  if (billId === 'B-LOST') return { type: 'payment.result', body: result(copy >= 4 ? 'succeeded' : 'pending') };
  if (copy === 2) {
    setTimeout(() => sendDown(deviceId, { id: `final-${request.id}`, re: request.id, type: 'payment.result', body: result('succeeded') }), 50);
  }
  return { type: 'payment.result', body: { ...result('pending'), qrCode: 'sim://qr' } };
}

test.before(async () => {
  ctx.broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      const expected = username === undefined ? undefined : CREDENTIALS[username];
      if (expected !== undefined && password?.toString('utf8') === expected) return done(null, true);
      const err = Object.assign(new Error('bad credentials'), { returnCode: 4 as const });
      done(err, false);
    },
  });
  ctx.server = net.createServer(ctx.broker.handle);
  ctx.server.listen(0, '127.0.0.1');
  await once(ctx.server, 'listening');
  ctx.url = `mqtt://127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
  ctx.copies = new Map();
  ctx.clients = [];
  ctx.responder = await mqtt.connectAsync(ctx.url, {
    clientId: 'responder', username: 'responder', password: CREDENTIALS.responder, protocolVersion: 4, reconnectPeriod: 0,
  });
  ctx.responder.on('message', respond);
  await ctx.responder.subscribeAsync('dev/+/up/+', { qos: 1 });
});

test.after.each(async () => {
  await Promise.all(ctx.clients.map((c) => c.close()));
  ctx.clients = [];
});

test.after(async () => {
  await ctx.responder.endAsync(true);
  await new Promise<void>((resolve) => ctx.broker.close(() => resolve()));
  await new Promise<void>((resolve) => ctx.server.close(() => resolve()));
});

test('a request is resent with the same id until it is answered', async () => {
  const client = await connectDevice();
  const reply = await client.request('bill.query', { patientId: 'P1' }, { resendMs: 100, timeoutMs: 5_000 });
  assert.is(reply.type, 'bill.query.ok');
  assert.ok(reply.re);
  assert.is(ctx.copies.get(reply.re), 2);
  assert.equal(reply.body, { echo: { patientId: 'P1' }, copy: 2 });
});

test('a request with a given id is sent under that id', async () => {
  const client = await connectDevice();
  const reply = await client.request('bill.query', { patientId: 'P2' }, { id: 'fixed-id-1', resendMs: 100, timeoutMs: 5_000 });
  assert.is(reply.re, 'fixed-id-1');
});

test('a request with no answer rejects after its timeout and leaves no open handle', async () => {
  const beforeConnect = resourceCounts();
  const client = await connectDevice('dev-b');
  const connectedOnly = resourceCounts();
  let error: unknown;
  try {
    await client.request(SILENT_TYPE, {}, { resendMs: 100, timeoutMs: 400 });
  } catch (err) {
    error = err;
  }
  assert.instance(error, DeviceClientError);
  assert.is((error as DeviceClientError).code, 'DEVICE_TIMEOUT');
  await settle();
  // `<=`, not `===`: the suite runs every file in one process, and a timer of an earlier
  // file may end meanwhile; a timer this request left behind still makes it larger.
  const afterRequest = resourceCounts().timers;
  assert.ok(afterRequest <= connectedOnly.timers, `the request left a timer behind: ${connectedOnly.timers} before, ${afterRequest} after`);
  const disconnected = once(ctx.broker, 'clientDisconnect');
  await client.close();
  await disconnected;
  await settle();
  const afterClose = resourceCounts();
  assert.ok(afterClose.sockets <= beforeConnect.sockets, `sockets before ${beforeConnect.sockets}, after ${afterClose.sockets}`);
  assert.ok(afterClose.timers <= beforeConnect.timers, `timers before ${beforeConnect.timers}, after ${afterClose.timers}`);
});

test('a simulator\'s --url takes one broker or a pair\'s comma-separated list, and refuses what is not an mqtt(s) URL or mixes the two', () => {
  const url = (text: string) => connectOptions({ url: text, device: 'kiosk-01' }, 'kiosk-01').url;
  assert.is(url('mqtt://10.0.0.1:1883'), 'mqtt://10.0.0.1:1883');
  assert.equal(url('mqtt://10.0.0.1:1883, mqtt://10.0.0.2:1883'), ['mqtt://10.0.0.1:1883', 'mqtt://10.0.0.2:1883']);
  for (const [bad, message] of [
    ['http://10.0.0.1:1883', /not an mqtt:\/\/ or mqtts:\/\/ URL/],
    ['mqtt://10.0.0.1:1883,mqtts://10.0.0.2:8883', /or all as mqtts:\/\/, not a mix/],
    ['mqtt://10.0.0.1:1883,nonsense', /not a URL: nonsense/],
    [',', /names no broker/],
  ] as const) {
    assert.throws(() => url(bad), (err: unknown) => err instanceof UsageError && message.test((err as Error).message), bad);
  }
});

test('wrong credentials reject connect with a refusal, not a retry until timeout', async () => {
  let error: unknown;
  try {
    await connectDevice('dev-a', 'wrong-password');
  } catch (err) {
    error = err;
  }
  assert.instance(error, DeviceClientError);
  assert.is((error as DeviceClientError).code, 'DEVICE_CONNECT_REFUSED');
  assert.match((error as Error).message, /bad username or password/);
});

test('an unreachable broker rejects connect once the connect timeout passes', async () => {
  const closed = net.createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  let error: unknown;
  try {
    await DeviceClient.connect({ url: `mqtt://127.0.0.1:${port}`, id: 'dev-a', password: 'secret-a', connectTimeoutMs: 300 });
  } catch (err) {
    error = err;
  }
  assert.instance(error, DeviceClientError);
  assert.is((error as DeviceClientError).code, 'DEVICE_CONNECT_TIMEOUT');
});

test('unsolicited down messages reach the message listeners and waitFor', async () => {
  const client = await connectDevice();
  const received: Reply[] = [];
  client.on('message', (r) => received.push(r));
  const paid = client.waitFor((r) => r.type === 'bill.paid', 5_000);
  const message = { v: 1, id: 'push-1', type: 'bill.paid', body: { billId: 'B1' } };
  await ctx.responder.publishAsync(topics.down('dev-a'), 'not json', { qos: 1 });
  await ctx.responder.publishAsync(topics.down('dev-a'), JSON.stringify(message), { qos: 1 });
  const reply = await paid;
  assert.equal(reply.body, { billId: 'B1' });
  assert.equal(received.map((r) => r.id), ['push-1']);
  assert.is(client.invalidMessages, 1);
});

test('a message for another device does not reach this one', async () => {
  const a = await connectDevice('dev-a');
  const b = await connectDevice('dev-b');
  const toB = b.waitFor((r) => r.id === 'push-b', 5_000);
  const atA: Reply[] = [];
  a.on('message', (r) => atA.push(r));
  await ctx.responder.publishAsync(topics.down('dev-b'), JSON.stringify({ v: 1, id: 'push-b', type: 'bill.paid', body: {} }), { qos: 1 });
  await toB;
  assert.equal(atA, []);
});

test('a request sent while the broker drops the connection is answered after the reconnect', async () => {
  const client = await connectDevice('dev-a');
  const statuses: string[] = [];
  client.on('status', (s) => statuses.push(s));
  const brokerSide = (ctx.broker as unknown as { clients: Record<string, { close(): void }> }).clients['dev-a'];
  assert.ok(brokerSide, 'the broker knows the client');
  brokerSide.close();
  const reply = await client.request('bill.query', { patientId: 'P3' }, { resendMs: 200, timeoutMs: 10_000 });
  assert.is(reply.type, 'bill.query.ok');
  assert.ok(statuses.includes('connected'), `statuses: ${statuses.join(', ')}`);
});

test('closing the client fails what still waits for a reply', async () => {
  const client = await connectDevice();
  const pending = client.request(SILENT_TYPE, {}, { resendMs: 100, timeoutMs: 10_000 });
  const settled = pending.then(() => 'resolved', (err: DeviceClientError) => err.code);
  await client.close();
  assert.is(await settled, 'DEVICE_CLOSED');
});

test('a kiosk payment that is pending ends with the final result pushed on the down topic', async () => {
  const kiosk = new KioskSim(await connectDevice('dev-a'));
  const pending: string[] = [];
  const outcome = await kiosk.payBill(
    { billId: 'B-PUSH', amount: 7200, method: 'qr' },
    { waitFinalMs: 5_000, recheckMs: 2_000, request: { resendMs: 100 }, onPending: (p) => pending.push(p.body.qrCode ?? '') },
  );
  assert.equal(pending, ['sim://qr']);
  assert.is(outcome.reply.type, 'payment.result');
  assert.is((outcome.reply.body as { status: string }).status, 'succeeded');
  assert.is(outcome.reply.id, `final-${outcome.requestId}`);
});

test('a kiosk payment whose final message is lost learns the outcome by re-asking with the same id', async () => {
  const kiosk = new KioskSim(await connectDevice('dev-a'));
  const outcome = await kiosk.payBill(
    { billId: 'B-LOST', amount: 7200, method: 'code', authCode: '123456' },
    { waitFinalMs: 5_000, recheckMs: 100, request: { resendMs: 100 } },
  );
  assert.is((outcome.reply.body as { status: string }).status, 'succeeded');
  assert.is(outcome.reply.re, outcome.requestId);
  assert.ok((ctx.copies.get(outcome.requestId) ?? 0) >= 4);
});

test('a kiosk payment still pending when its wait ends is a timeout', async () => {
  const kiosk = new KioskSim(await connectDevice('dev-a'));
  let error: unknown;
  try {
    await kiosk.payBill({ billId: 'B-LOST', amount: 1, method: 'qr' }, { waitFinalMs: 150, recheckMs: 1_000, request: { resendMs: 100 } });
  } catch (err) {
    error = err;
  }
  assert.is((error as DeviceClientError).code, 'DEVICE_TIMEOUT');
});

test('a billing desk sends the sum of its items as the total', async () => {
  const desk = new BillingDeskSim(await connectDevice('dev-b'));
  const items = [
    { code: 'LAB-1', name: 'Blood test', quantity: 1, unitPrice: 3500 },
    { code: 'MED-2', name: 'Amoxicillin', quantity: 3, unitPrice: 1250 },
  ];
  const reply = await desk.createBill({ patientId: 'P1', reference: 'INV-1', items }, { resendMs: 100 });
  const sent = (reply.body as unknown as { echo: { total: number; currency: string } }).echo;
  assert.is(sent.total, 3500 + 3 * 1250);
  assert.is(sent.currency, 'CNY');
});

test('a billing desk keeps each paid bill once, however often bill.paid arrives', async () => {
  const desk = new BillingDeskSim(await connectDevice('dev-b'));
  const paid = desk.waitForPaid('B-9', 5_000);
  const message = { v: 1, id: 'paid-9', type: 'bill.paid', body: { billId: 'B-9', reference: 'INV-9', orderId: 'O-9', amount: 100, currency: 'CNY', paidAt: '2026-01-01T00:00:00Z' } };
  await ctx.responder.publishAsync(topics.down('dev-b'), JSON.stringify(message), { qos: 1 });
  await ctx.responder.publishAsync(topics.down('dev-b'), JSON.stringify(message), { qos: 1 });
  assert.is((await paid).orderId, 'O-9');
  await desk.client.request('bill.query', {}, { resendMs: 100 }); // a round trip: both copies have arrived
  assert.equal(desk.paidBills().map((b) => b.billId), ['B-9']);
  assert.is((await desk.waitForPaid('B-9', 100)).orderId, 'O-9');
});

test('a down message with an id already seen is dropped, and the memory of ids is bounded', async () => {
  const client = await connectDevice('dev-a');
  const got: string[] = [];
  client.on('message', (m) => m.type === 'bill.paid' && got.push(m.id));
  const push = (id: string) => ctx.responder.publishAsync(topics.down('dev-a'), JSON.stringify({ v: 1, id, type: 'bill.paid', body: {} }), { qos: 1 });
  await push('m-0');
  await push('m-0');
  for (let i = 1; i <= SEEN_IDS_MAX; i++) await push(`m-${i}`);
  await push('m-0'); // forgotten by now: the oldest of more than SEEN_IDS_MAX ids
  await client.request('bill.query', {}, { resendMs: 100 }); // a round trip: every copy has arrived
  assert.is(client.duplicateMessages, 1);
  assert.is(got.filter((id) => id === 'm-0').length, 2);
  assert.is(got.length, SEEN_IDS_MAX + 2, 'every id once, and m-0 again once forgotten');
});

test('down messages that arrive during connect, before anyone listens, reach the first listener', async () => {
  const early = await connectDevice('dev-b');
  await early.close();
  // The gateway sends a waiting outbox as soon as the device subscribes, inside connect().
  const subscribed = new Promise<void>((resolve) => {
    const onSubscribe = (subs: Array<{ topic: string }>, c: { id: string }) => {
      if (c?.id !== 'dev-b' || !subs.some((s) => s.topic === topics.down('dev-b'))) return;
      ctx.broker.off('subscribe', onSubscribe);
      ctx.broker.publish({ cmd: 'publish', topic: topics.down('dev-b'), payload: Buffer.from(JSON.stringify({ v: 1, id: 'early-1', type: 'bill.paid', body: {} })), qos: 1, retain: false, dup: false }, () => resolve());
    };
    ctx.broker.on('subscribe', onSubscribe);
  });
  const client = await connectDevice('dev-b');
  await subscribed;
  await client.request('bill.query', {}, { resendMs: 100 });
  const got: string[] = [];
  client.on('message', (m) => got.push(m.id));
  await new Promise((r) => setImmediate(r));
  assert.ok(got.includes('early-1'), JSON.stringify(got));
});

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function resourceCounts(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
    timers: info.filter((r) => r === 'Timeout').length,
  };
}

test.run();
