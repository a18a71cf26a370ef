// Operators change devices and message types while the gateway runs: a reload applies
// good rule files at once and never replaces good rules with bad ones (invariant 5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { copyRules, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { addDevice, disableDevice } from '../runtime/rules/devices-file.js';
import { closedWithin, connectRaw, closeRaw, refusalCode } from './helpers/raw-mqtt.js';
import { demoPassword } from '../sim/demo-devices.js';

let gw: TestGateway;
let rulesDir: string;
let kiosk: Awaited<ReturnType<TestGateway['device']>> | undefined;
// One connection per device id: a second one with the same id takes over the first.
async function kiosk01() {
  kiosk ??= await gw.device('kiosk-01');
  return kiosk;
}
test.before(async () => {
  rulesDir = copyRules();
  gw = await startTestGateway({ rulesDir });
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

test('a device disabled and reloaded is disconnected and refused from then on', async () => {
  const login = { clientId: 'kiosk-02', username: 'kiosk-02', password: demoPassword('kiosk-02')! };
  const client = await connectRaw(gw.mqttUrl, login);
  const closed = closedWithin(client, 3000);
  await disableDevice(rulesDir, 'kiosk-02');
  const result = await gw.inner.reloadRules();
  assert.equal(result, { ok: true, dropped: 1 });
  assert.ok(await closed, 'the connected kiosk was disconnected');
  await closeRaw(client);
  assert.is(await refusalCode(gw.mqttUrl, login), 5);
});

test('a device added and reloaded can log in with the printed secret', async () => {
  const secret = await addDevice(rulesDir, { id: 'kiosk-77', role: 'kiosk' });
  assert.is((await refusalCode(gw.mqttUrl, { clientId: 'kiosk-77', username: 'kiosk-77', password: secret })), 5, 'unknown before the reload');
  await gw.inner.reloadRules();
  const kiosk = await gw.device('kiosk-77', secret);
  const reply = await kiosk.request('bill.query', { patientId: 'P-1' });
  assert.is(reply.type, 'bill.list');
});

test('broken rule files are not loaded and the gateway keeps serving with the old ones', async () => {
  const file = path.join(rulesDir, 'messages.yaml');
  const good = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, `${good}\n  shell.exec: { roles: [kiosk] \n`);
  const result = await gw.inner.reloadRules();
  assert.is(result.ok, false);
  assert.match((result as { problems: string }).problems, /messages\.yaml:\d+/);
  const kiosk = await kiosk01();
  const reply = await kiosk.request('bill.query', { patientId: 'P-1' });
  assert.is(reply.type, 'bill.list', 'still served');
  fs.writeFileSync(file, good);
});

test('a message type removed and reloaded is refused as unknown', async () => {
  const file = path.join(rulesDir, 'messages.yaml');
  const good = fs.readFileSync(file, 'utf8');
  const YAML = await import('yaml');
  const doc = YAML.parseDocument(good);
  doc.deleteIn(['messages', 'bill.query']);
  fs.writeFileSync(file, doc.toString());
  assert.equal(await gw.inner.reloadRules(), { ok: true, dropped: 0 });
  const kiosk = await kiosk01();
  const reply = await kiosk.request('bill.query', { patientId: 'P-1' });
  assert.is((reply.body as { code: string }).code, 'UNKNOWN_TYPE');
  fs.writeFileSync(file, good);
  await gw.inner.reloadRules();
});

test.run();
