// Who may connect, publish and subscribe (docs/design.md, "The medical-side contract").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { copyRules, startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { disableDevice } from '../runtime/rules/devices-file.js';
import { closeRaw, closedWithin, connectRaw, refusalCode, subackCodes } from './helpers/raw-mqtt.js';
import { demoPassword } from '../sim/demo-devices.js';
import type { AuditEntry } from '../runtime/inner/store/store.js';
import { DeviceClient, DeviceClientError } from '../devices/client.js';

let gw: TestGateway;
let rulesDir: string;
test.before(async () => {
  rulesDir = copyRules();
  await disableDevice(rulesDir, 'desk-01');
  gw = await startTestGateway({ rulesDir });
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

const kioskLogin = { clientId: 'kiosk-01', username: 'kiosk-01', password: demoPassword('kiosk-01')! };

async function auditKinds(): Promise<string[]> {
  await gw.inner.store.durable();
  return (await gw.inner.store.list<AuditEntry>('audit!')).map(([, e]) => e.event.kind);
}

test('an unknown device is refused at CONNECT', async () => {
  assert.is.not(await refusalCode(gw.mqttUrl, { clientId: 'kiosk-99', username: 'kiosk-99', password: 'whatever' }), 0);
});

test('a wrong password is refused', async () => {
  assert.is(await refusalCode(gw.mqttUrl, { ...kioskLogin, password: 'wrong' }), 4);
});

test('a disabled device is refused', async () => {
  assert.ok(gw.rules.devices.get('desk-01')?.disabled);
  assert.is(await refusalCode(gw.mqttUrl, { clientId: 'desk-01', username: 'desk-01', password: demoPassword('desk-01')! }), 5);
});

test('an empty client id is refused', async () => {
  assert.is(await refusalCode(gw.mqttUrl, { ...kioskLogin, clientId: '', clean: true }), 2);
});

test('a client id different from the username is refused', async () => {
  assert.is(await refusalCode(gw.mqttUrl, { ...kioskLogin, clientId: 'kiosk-02' }), 2);
});

test('refused connections are audited', async () => {
  await refusalCode(gw.mqttUrl, { ...kioskLogin, password: 'wrong-again' });
  await waitFor(async () => (await auditKinds()).includes('acl.denied.connect'), 3000, 'audit of the refusal');
});

test('a kiosk cannot publish to another device\'s topic', async () => {
  const client = await connectRaw(gw.mqttUrl, kioskLogin);
  client.publish('dev/kiosk-02/up/bill.query', '{}', { qos: 1 });
  assert.ok(await closedWithin(client, 3000), 'the broker closes the connection');
  await closeRaw(client);
  await waitFor(async () => (await auditKinds()).includes('acl.denied.publish'), 3000, 'audit of the denial');
});

test('a kiosk cannot publish outside its up topics', async () => {
  for (const topic of ['slots/INT/2026-11-26', 'dev/kiosk-01/down', 'dept/INT/inbox', 'dev/kiosk-01/up']) {
    const client = await connectRaw(gw.mqttUrl, kioskLogin);
    client.publish(topic, '{}', { qos: 1 });
    assert.ok(await closedWithin(client, 3000), `publish to ${topic} closes the connection`);
    await closeRaw(client);
  }
});

for (const filter of ['#', 'dev/kiosk-02/down', 'dev/+/down', 'dev/kiosk-01/up/#', 'dept/INT/inbox', '$SYS/#']) {
  test(`a kiosk cannot subscribe to ${filter}: it is granted 0x80 and stays connected`, async () => {
    const client = await connectRaw(gw.mqttUrl, kioskLogin);
    assert.equal(await subackCodes(client, [filter]), [0x80], `subscription to ${filter} refused with 0x80`);
    assert.ok(client.connected, 'the connection is kept');
    await closeRaw(client);
  });
}

test('a kiosk subscribing to its down topic and # is granted the first, refused the second, and still answered', async () => {
  const client = await connectRaw(gw.mqttUrl, { ...kioskLogin, clientId: 'kiosk-02', username: 'kiosk-02', password: demoPassword('kiosk-02')! });
  let closed = false;
  client.on('close', () => { closed = true; });
  assert.equal(await subackCodes(client, ['dev/kiosk-02/down', '#']), [1, 0x80]);

  const id = 'k2-refused-sub-1';
  const reply = new Promise<{ re?: string; type: string }>((resolve) => {
    client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString()) as { re?: string; type: string };
      if (topic === 'dev/kiosk-02/down' && message.re === id) resolve(message);
    });
  });
  await client.publishAsync('dev/kiosk-02/up/bill.query',
    JSON.stringify({ v: 1, id, type: 'bill.query', ts: new Date().toISOString(), body: { patientId: 'P-REFUSED-SUB' } }), { qos: 1 });
  assert.is((await reply).re, id);
  assert.not.ok(closed, 'the connection was never closed');
  await closeRaw(client);

  await waitFor(async () => {
    await gw.inner.store.durable();
    const entries = await gw.inner.store.list<AuditEntry>('audit!');
    return entries.some(([, e]) => e.event.kind === 'acl.denied.subscribe' && e.event.device === 'kiosk-02' && e.event.topic === '#');
  }, 3000, 'audit of the refused subscription');
});

test('the device client tells a refused subscription apart from a broken connection, and stays connected', async () => {
  const client = await DeviceClient.connect({ url: gw.mqttUrl, id: 'kiosk-01', password: demoPassword('kiosk-01')!, connectTimeoutMs: 5_000 });
  try {
    const refused = await client.subscribe('#').then(() => undefined, (err: unknown) => err);
    assert.instance(refused, DeviceClientError);
    assert.is((refused as DeviceClientError).code, 'DEVICE_SUBSCRIBE_REFUSED');
    await client.subscribe('slots/#');
  } finally {
    await client.close();
  }
});

test('a kiosk may subscribe to its own down topic and to slots', async () => {
  const client = await connectRaw(gw.mqttUrl, kioskLogin);
  const granted = await client.subscribeAsync(['dev/kiosk-01/down', 'slots/#', 'slots/INT/+'], { qos: 1 });
  assert.equal(granted.map((g) => g.qos), [1, 1, 1]);
  await closeRaw(client);
});

test('a role without payment.request cannot send it', async () => {
  const receiver = await gw.device('receiver-01');
  const reply = await receiver.request('payment.request', { billId: 'B1', amount: 100, currency: 'CNY', method: 'qr' });
  assert.is(reply.type, 'error');
  assert.ok(['FORBIDDEN_TYPE', 'UNKNOWN_TYPE'].includes((reply.body as { code: string }).code));
});

test('a client declaring an MQTT packet larger than the limit is cut off before it is buffered', async () => {
  const client = await connectRaw(gw.mqttUrl, kioskLogin);
  const socket = client.stream as import('node:net').Socket;
  const closed = closedWithin(client, 3000);
  // PUBLISH QoS 0 with a remaining length of 50 MiB, as four variable-length bytes.
  let length = 50 * 1024 * 1024;
  const header = [0x30];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    header.push(byte);
  } while (length > 0);
  socket.write(Buffer.from([...header, 0x00, 0x03, 0x61, 0x2f, 0x62]));
  assert.ok(await closed, 'the gateway closed the connection');
  await closeRaw(client);
});

test.run();
