// The gap refuses what the rules do not name, says why, audits it, and keeps serving
// the same device (invariant 5 of docs/design.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { closeRaw, connectRaw } from './helpers/raw-mqtt.js';
import { demoPassword } from '../sim/demo-devices.js';
import type { AuditEntry } from '../runtime/inner/store/store.js';
import type { MqttClient } from 'mqtt';

let gw: TestGateway;
let kiosk: MqttClient;
const replies: Array<Record<string, any>> = [];

test.before(async () => {
  gw = await startTestGateway();
  kiosk = await connectRaw(gw.mqttUrl, { clientId: 'kiosk-02', username: 'kiosk-02', password: demoPassword('kiosk-02')! });
  kiosk.on('message', (_topic, payload) => replies.push(JSON.parse(payload.toString())));
  await kiosk.subscribeAsync('dev/kiosk-02/down', { qos: 1 });
});
test.after(async () => {
  await closeRaw(kiosk);
  await gw.close();
});

let n = 0;
function envelope(type: string, body: unknown, extra: Record<string, unknown> = {}) {
  return { v: 1, id: `g-${++n}`, type, ts: new Date().toISOString(), body, ...extra };
}

async function send(type: string, payload: string | Buffer): Promise<Record<string, any>> {
  const before = replies.length;
  await kiosk.publishAsync(`dev/kiosk-02/up/${type}`, payload, { qos: 1 });
  await waitFor(() => replies.length > before, 5000, `a reply to ${type}`);
  return replies[replies.length - 1]!;
}

async function refusedAndAudited(reply: Record<string, any>, code: string, path?: string) {
  assert.is(reply.type, 'error', JSON.stringify(reply));
  assert.is(reply.body.code, code, JSON.stringify(reply.body));
  assert.type(reply.body.message, 'string');
  if (path) assert.is(reply.body.path, path);
  await gw.inner.store.durable();
  const audit = await gw.inner.store.list<AuditEntry>('audit!', { reverse: true, limit: 20 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'gap.refused' && e.event.code === code && e.event.device === 'kiosk-02'), `audit has ${code}`);
}

async function servedNormally() {
  const reply = await send('bill.query', JSON.stringify(envelope('bill.query', { patientId: 'P-7' })));
  assert.is(reply.type, 'bill.list', 'the device is served normally right after');
}

test('malformed JSON is refused with MALFORMED', async () => {
  await refusedAndAudited(await send('bill.query', '{"v":1,'), 'MALFORMED');
  await servedNormally();
});

test('a payload that is not UTF-8 is refused with MALFORMED', async () => {
  await refusedAndAudited(await send('bill.query', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'MALFORMED');
  await servedNormally();
});

test('a wrong type in the body is refused with SCHEMA and the field\'s path', async () => {
  const e = envelope('bill.query', { patientId: 42 });
  const reply = await send('bill.query', JSON.stringify(e));
  assert.is(reply.re, e.id, 'the error names the request it answers');
  await refusedAndAudited(reply, 'SCHEMA', '/body/patientId');
  await servedNormally();
});

test('an unknown field in the body is refused', async () => {
  await refusedAndAudited(await send('bill.query', JSON.stringify(envelope('bill.query', { patientId: 'P-7', note: 'x' }))), 'SCHEMA', '/body/note');
  await servedNormally();
});

test('an unknown field in the envelope is refused', async () => {
  await refusedAndAudited(await send('bill.query', JSON.stringify(envelope('bill.query', { patientId: 'P-7' }, { from: 'kiosk-01' }))), 'ENVELOPE', '/from');
  await servedNormally();
});

test('an oversized payload is refused with TOO_LARGE', async () => {
  const big = JSON.stringify(envelope('bill.query', { patientId: 'P-7', pad: 'x'.repeat(20_000) }));
  const reply = await send('bill.query', big);
  assert.is(reply.re, JSON.parse(big).id, 'the error names the request it answers');
  await refusedAndAudited(reply, 'TOO_LARGE');
  await servedNormally();
});

test('an undeclared message type is refused with UNKNOWN_TYPE', async () => {
  const e = envelope('shell.exec', { cmd: 'id' });
  const reply = await send('shell.exec', JSON.stringify(e));
  assert.is(reply.re, e.id, 'the error names the request it answers');
  await refusedAndAudited(reply, 'UNKNOWN_TYPE');
  await servedNormally();
});

test('an envelope type that differs from the topic is refused', async () => {
  await refusedAndAudited(await send('bill.query', JSON.stringify(envelope('bill.create', { patientId: 'P-7' }))), 'TOPIC_MISMATCH', '/type');
  await servedNormally();
});

for (const [where, body] of [
  ['a string field', { patientId: '4111111111111111' }],
  ['a spaced card number', { patientId: '4111 1111 1111 1111' }],
  ['a dashed card number in an unknown field', { patientId: 'P-7', x: 'card 5500-0000-0000-0004 thanks' }],
] as const) {
  test(`a card number in ${where} is refused with CARD_DATA`, async () => {
    await refusedAndAudited(await send('bill.query', JSON.stringify(envelope('bill.query', body))), 'CARD_DATA');
    await servedNormally();
  });
}

test('a card number as a JSON number is refused too', async () => {
  const payload = JSON.stringify(envelope('payment.request', { billId: 'B1', amount: 4111111111111111, currency: 'CNY', method: 'qr' }));
  await refusedAndAudited(await send('payment.request', payload), 'CARD_DATA', '/body/amount');
  await servedNormally();
});

test('a 16-digit number that fails Luhn is not mistaken for a card', async () => {
  const reply = await send('bill.query', JSON.stringify(envelope('bill.query', { patientId: '4111111111111112' })));
  assert.is(reply.type, 'bill.list');
});

test('every accepted message is audited too', async () => {
  await servedNormally();
  const audit = await gw.inner.store.list<AuditEntry>('audit!', { reverse: true, limit: 5 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'gap.accepted' && e.event.type === 'bill.query'));
});

test('exceeding the rate limit is refused with RATE_LIMIT, and the device is served again later', async () => {
  const rule = gw.rules.messages.get('bill.query')!;
  let limited: Record<string, any> | undefined;
  for (let i = 0; i < rule.rate.burst + 5 && !limited; i++) {
    const reply = await send('bill.query', JSON.stringify(envelope('bill.query', { patientId: 'P-8' })));
    if (reply.type === 'error') limited = reply;
  }
  assert.ok(limited, 'the limit was reached');
  await refusedAndAudited(limited!, 'RATE_LIMIT');
  const waitMs = Math.ceil(60_000 / rule.rate.perMinute) + 100;
  await new Promise((r) => setTimeout(r, waitMs));
  await servedNormally();
});

test.run();
