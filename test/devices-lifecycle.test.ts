// The device lifecycle on a running gateway: `ferry devices rotate|disable|enable|remove|
// add|list` run as real processes against the management API of a real gateway, and what
// connecting devices see at once, without a restart. devices.yaml belongs to another user
// (as on an installed box) and keeps its owner and mode through every change.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { copyRules, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { api, ferry, managementUrl, tokens } from './helpers/management.js';
import { closedWithin, closeRaw, connectRaw, refusalCode } from './helpers/raw-mqtt.js';
import { freePort } from './helpers/processes.js';
import { demoPassword } from '../sim/demo-devices.js';
import { loadRules } from '../runtime/rules/load.js';
import { verifyPassword } from '../runtime/rules/password.js';

// MQTT 3.1.1 CONNACK return codes.
const BAD_USER_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
// An installed box: the rule files belong to the service account.
const OWNER = { uid: 65534, gid: 65534, mode: '640' };
// The session is dropped as soon as the command's reload runs; the wait covers a CLI
// process that starts slowly on a loaded machine, and ends at the drop.
const SESSION_DROP_WAIT_MS = 30_000;

let gw: TestGateway;
let rulesDir: string;
let url: string;

test.before(async () => {
  rulesDir = copyRules();
  const file = path.join(rulesDir, 'devices.yaml');
  fs.chownSync(file, OWNER.uid, OWNER.gid);
  fs.chmodSync(file, 0o640);
  gw = await startTestGateway({ rulesDir });
  url = managementUrl(gw);
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

const devicesCli = (verb: string, ...args: string[]) => ferry(['devices', verb, ...args, '--rules', rulesDir, '--url', url]);
const login = (id: string, password = demoPassword(id)!) => ({ clientId: id, username: id, password, reconnectPeriod: 0 });

function ownership(): { uid: number; gid: number; mode: string } {
  const st = fs.statSync(path.join(rulesDir, 'devices.yaml'));
  return { uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8) };
}

function noTempFiles(): void {
  assert.equal(fs.readdirSync(rulesDir).filter((f) => f.endsWith('.tmp')), []);
}

test('devices rotate prints a new secret once, drops the live session, refuses the old secret and accepts the new one', async () => {
  const live = await connectRaw(gw.mqttUrl, login('kiosk-02'));
  const closed = closedWithin(live, SESSION_DROP_WAIT_MS);
  try {
    const run = await devicesCli('rotate', 'kiosk-02');
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /^[A-Za-z0-9_-]{32}\n$/);
    assert.match(run.stderr, /applied to the running gateway; 1 live session dropped/);
    const secret = run.stdout.trim();
    assert.ok(await closed, 'the session that logged in with the old secret was dropped');
    assert.is(await refusalCode(gw.mqttUrl, login('kiosk-02')), BAD_USER_OR_PASSWORD);
    assert.is(await refusalCode(gw.mqttUrl, login('kiosk-02', secret)), 0);
    assert.ok(await verifyPassword(secret, loadRules(rulesDir).devices.get('kiosk-02')!.password!), 'stored as its scrypt hash');
    assert.not.ok(fs.readFileSync(path.join(rulesDir, 'devices.yaml'), 'utf8').includes(secret));
    assert.equal(ownership(), OWNER);
    noTempFiles();
  } finally {
    await closeRaw(live);
  }
});

test('a rotated device keeps its other sessions untouched: only its own is dropped', async () => {
  const other = await connectRaw(gw.mqttUrl, login('kiosk-01'));
  try {
    const stays = closedWithin(other, 1500);
    const run = await devicesCli('rotate', 'desk-01');
    assert.is(run.code, 0, run.stderr);
    assert.is(await stays, false, 'kiosk-01 stayed connected');
  } finally {
    await closeRaw(other);
  }
});

test('devices disable drops the live session and refuses it; devices enable lets it in again', async () => {
  const live = await connectRaw(gw.mqttUrl, login('receiver-01'));
  const closed = closedWithin(live, SESSION_DROP_WAIT_MS);
  try {
    const off = await devicesCli('disable', 'receiver-01');
    assert.is(off.code, 0, off.stderr);
    assert.is(off.stdout, 'device receiver-01 disabled\n');
    assert.ok(await closed);
    assert.is(await refusalCode(gw.mqttUrl, login('receiver-01')), NOT_AUTHORIZED);
    const on = await devicesCli('enable', 'receiver-01');
    assert.is(on.code, 0, on.stderr);
    assert.is(on.stdout, 'device receiver-01 enabled\n');
    assert.match(on.stderr, /applied to the running gateway/);
    assert.is(await refusalCode(gw.mqttUrl, login('receiver-01')), 0);
    assert.not.match(fs.readFileSync(path.join(rulesDir, 'devices.yaml'), 'utf8'), /^ *disabled:/m, 'the disabled line is gone');
    assert.equal(ownership(), OWNER);
    noTempFiles();
  } finally {
    await closeRaw(live);
  }
});

test('devices remove deletes the entry, drops the live session, and the device is refused from then on', async () => {
  const live = await connectRaw(gw.mqttUrl, login('ws-ped-01'));
  const closed = closedWithin(live, SESSION_DROP_WAIT_MS);
  try {
    const run = await devicesCli('remove', 'ws-ped-01');
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stdout, 'device ws-ped-01 removed\n');
    assert.ok(await closed);
    assert.is(await refusalCode(gw.mqttUrl, login('ws-ped-01')), NOT_AUTHORIZED);
    assert.not.ok(loadRules(rulesDir).devices.has('ws-ped-01'));
    assert.not.match(fs.readFileSync(path.join(rulesDir, 'devices.yaml'), 'utf8'), /ws-ped-01/);
    assert.equal(ownership(), OWNER);
    noTempFiles();
    const again = await devicesCli('remove', 'ws-ped-01');
    assert.is(again.code, 1);
    assert.match(again.stderr, /no device "ws-ped-01"/);
  } finally {
    await closeRaw(live);
  }
});

test('devices add on a running gateway: the new device logs in at once, with no reload by hand', async () => {
  const run = await devicesCli('add', 'kiosk-31', '--role', 'kiosk');
  assert.is(run.code, 0, run.stderr);
  assert.is(await refusalCode(gw.mqttUrl, login('kiosk-31', run.stdout.trim())), 0);
  assert.equal(ownership(), OWNER);
});

test('devices list shows who is online, when each was last seen and its refusals, as a table and as JSON', async () => {
  const online = await connectRaw(gw.mqttUrl, login('kiosk-01'));
  try {
    assert.is(await refusalCode(gw.mqttUrl, login('billing-01', 'wrong')), BAD_USER_OR_PASSWORD);
    const json = await devicesCli('list', '--json');
    assert.is(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as { gatewayRunning: boolean; devices: Array<Record<string, any>> };
    assert.is(listed.gatewayRunning, true);
    const byId = new Map(listed.devices.map((d) => [d.id as string, d]));
    assert.equal([...byId.keys()], [...loadRules(rulesDir).devices.keys()].sort((a, b) => a.localeCompare(b)), 'every device of the file');
    const kiosk = byId.get('kiosk-01')!;
    assert.is(kiosk.online, true);
    assert.ok(Date.parse(kiosk.lastSeenAt) > Date.now() - 60_000, kiosk.lastSeenAt);
    assert.is(kiosk.applied, true);
    const desk = byId.get('billing-01')!;
    assert.is(desk.online, false);
    assert.is(desk.refusals.connect, 1);
    assert.is(byId.get('ws-int-01')!.dept, 'INT');
    const table = await devicesCli('list');
    assert.is(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID +ROLE +DEPT +STATE +STATUS +LAST SEEN +REFUSED\n/);
    assert.match(table.stdout, /\nkiosk-01 +kiosk +- +enabled +online +\d{4}-\d\d-\d\dT[^ ]+ +0\n/);
    assert.match(table.stdout, /\nbilling-01 .* offline .* 1 \(connect 1\)\n/);
    assert.not.match(table.stdout, /unknown/);
  } finally {
    await closeRaw(online);
  }
});

test('devices list marks a change written while the gateway did not apply it', async () => {
  // Written by hand, not reloaded: the running gateway still has kiosk-01 enabled.
  const file = path.join(rulesDir, 'devices.yaml');
  const before = fs.readFileSync(file, 'utf8');
  try {
    fs.writeFileSync(file, before.replace('  - id: kiosk-01\n    role: kiosk\n', '  - id: kiosk-01\n    role: kiosk\n    disabled: true\n'));
    const table = await devicesCli('list');
    assert.match(table.stdout, /\nkiosk-01 +kiosk +- +disabled \(not applied\)/);
  } finally {
    fs.writeFileSync(file, before);
  }
});

test('with the gateway stopped, devices list reads the file and says online status is unknown, and a change applies at next start', async () => {
  const stopped = `http://127.0.0.1:${await freePort()}`;
  const list = await ferry(['devices', 'list', '--rules', rulesDir, '--url', stopped]);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, /\nkiosk-01 +kiosk +- +enabled +unknown +- +-\n/);
  assert.match(list.stdout, /the gateway is not running \(no answer at http:\/\/127\.0\.0\.1:\d+\): online status unknown/);
  const json = JSON.parse((await ferry(['devices', 'list', '--json', '--rules', rulesDir, '--url', stopped])).stdout);
  assert.is(json.gatewayRunning, false);
  assert.is(json.devices[0].online, null);
  const disable = await ferry(['devices', 'disable', 'kiosk-31', '--rules', rulesDir, '--url', stopped]);
  assert.is(disable.code, 0, disable.stderr);
  assert.match(disable.stderr, /the gateway is not running .*the change applies at its next start/);
  assert.is(await refusalCode(gw.mqttUrl, login('kiosk-31', 'whatever')), BAD_USER_OR_PASSWORD, 'the running gateway was not told');
  await gw.inner.reloadRules();
});

test('a change the running gateway refuses to apply (a token that is not the admin token) exits 1 and says so; the file keeps it', async () => {
  const { read } = tokens(gw);
  // kiosk-31 is disabled, in the file and in the running rules (the test before).
  const run = await ferry(['devices', 'enable', 'kiosk-31', '--rules', rulesDir, '--url', url, '--token', read]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /devices\.yaml is written, but the running gateway did not apply it: 403 FORBIDDEN.*admin token/);
  assert.is(loadRules(rulesDir).devices.get('kiosk-31')!.disabled, false);
  const listed = JSON.parse((await devicesCli('list', '--json')).stdout) as { devices: Array<{ id: string; applied: boolean }> };
  assert.is(listed.devices.find((d) => d.id === 'kiosk-31')!.applied, false);
  await gw.inner.reloadRules();
});

test('the device routes: the list takes the read token, a reload needs the admin token, and bad rule files are refused with RULES_INVALID', async () => {
  const { read, admin } = tokens(gw);
  const listed = await api(gw, 'GET', '/v1/devices', read);
  assert.is(listed.status, 200);
  assert.ok(listed.json.devices.some((d: { id: string }) => d.id === 'kiosk-01'));
  assert.is((await api(gw, 'GET', '/v1/devices')).status, 401);
  const forbidden = await api(gw, 'POST', '/v1/rules/reload', read);
  assert.is(forbidden.status, 403);
  assert.is(forbidden.json.error, 'FORBIDDEN');
  assert.is((await api(gw, 'GET', '/v1/rules/reload', admin)).status, 405);
  const ok = await api(gw, 'POST', '/v1/rules/reload', admin);
  assert.equal(ok.json, { ok: true, dropped: 0 });
  const file = path.join(rulesDir, 'messages.yaml');
  const good = fs.readFileSync(file, 'utf8');
  try {
    fs.writeFileSync(file, `${good}\n  shell.exec: { roles: [kiosk] \n`);
    const bad = await api(gw, 'POST', '/v1/rules/reload', admin);
    assert.is(bad.status, 422);
    assert.is(bad.json.error, 'RULES_INVALID');
    assert.match(bad.json.message, /messages\.yaml:\d+/);
    assert.is(await refusalCode(gw.mqttUrl, login('kiosk-01')), 0, 'the running rules stay');
  } finally {
    fs.writeFileSync(file, good);
  }
});

test('a certificate device has no password to rotate, and rotating an unknown device is refused; the file is unchanged', async () => {
  const file = path.join(rulesDir, 'devices.yaml');
  const before = fs.readFileSync(file, 'utf8');
  const ghost = await devicesCli('rotate', 'ghost-01');
  assert.is(ghost.code, 1);
  assert.is(ghost.stdout, '');
  assert.match(ghost.stderr, /no device "ghost-01"/);
  const fp = Array.from({ length: 32 }, () => 'AB').join(':');
  const added = await devicesCli('add', 'kiosk-tls', '--role', 'kiosk', '--cert-fingerprint', fp);
  assert.is(added.code, 0, added.stderr);
  const withCert = fs.readFileSync(file, 'utf8');
  const cert = await devicesCli('rotate', 'kiosk-tls');
  assert.is(cert.code, 1);
  assert.is(cert.stdout, '');
  assert.match(cert.stderr, /logs in with a TLS client certificate/);
  assert.is(fs.readFileSync(file, 'utf8'), withCert);
  assert.is(withCert.slice(0, before.length), before);
});

test.run();
