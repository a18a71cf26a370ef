// TLS on both sides of the gateway: devices on the MQTT-over-TLS port with
// client certificates checked against their registered fingerprints, certificates
// reloaded on SIGHUP, and mutual TLS toward the payment server. The certificates come
// from `ferry tls make-test-ca`, run as an operator would.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { copyRules, PROJECT_DIR, quietLog, sampleItems, sampleTotal, startTestGateway, tempDir, waitFor, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/processes.js';
import { connectRaw, closeRaw, refusalCode } from './helpers/raw-mqtt.js';
import { DeviceClient } from '../devices/client.js';
import { demoPassword } from '../sim/demo-devices.js';
import { loadRules } from '../runtime/rules/load.js';
import { applyOverrides } from '../runtime/rules/overrides.js';
import { startInner, type RunningInner } from '../runtime/inner/inner.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';
import { certFingerprint } from '../runtime/tls/fingerprint.js';
import { canConnect } from '../sim/gateway-processes.js';

const FERRY = path.join(PROJECT_DIR, 'bin/ferry.js');
const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');
const COMMAND_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 15_000;

const dirs: string[] = [];
const children: ChildProcess[] = [];
const clients: DeviceClient[] = [];
let rulesDir: string;
let tlsDir: string;
let otherCa: string;
let fingerprints: Record<string, string>;
let gw: TestGateway;
let tlsUrl: string;

function ferry(args: string[]): string {
  return execFileSync(process.execPath, [FERRY, ...args], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
}

function pem(file: string): Buffer {
  return fs.readFileSync(path.join(tlsDir, file));
}

function deviceTls(id: string, dir = tlsDir) {
  return { ca: pem('ca.crt'), cert: fs.readFileSync(path.join(dir, 'devices', `${id}.crt`)), key: fs.readFileSync(path.join(dir, 'devices', `${id}.key`)) };
}

// gateway.yaml with TLS required on the MQTT side, and two certificate-only devices.
function enableTls(dir: string, o: { tlsPort: number; paymentTls?: boolean }): void {
  const gwFile = path.join(dir, 'gateway.yaml');
  const gwDoc = YAML.parseDocument(fs.readFileSync(gwFile, 'utf8'));
  gwDoc.setIn(['mqtt', 'tls'], gwDoc.createNode({ port: o.tlsPort, cert: 'tls/server.crt', key: 'tls/server.key', ca: 'tls/ca.crt', requireClientCert: true }));
  if (o.paymentTls) gwDoc.setIn(['payment', 'tls'], gwDoc.createNode({ ca: 'tls/ca.crt', cert: 'tls/payment-client.crt', key: 'tls/payment-client.key' }));
  fs.writeFileSync(gwFile, gwDoc.toString());
  const devFile = path.join(dir, 'devices.yaml');
  const devDoc = YAML.parseDocument(fs.readFileSync(devFile, 'utf8'));
  const list = devDoc.get('devices') as YAML.YAMLSeq;
  for (const id of ['kiosk-tls', 'kiosk-tls2']) list.add(devDoc.createNode({ id, role: 'kiosk', certFingerprint: fingerprints[id] }));
  fs.writeFileSync(devFile, devDoc.toString());
}

async function tlsDevice(id: string, url: string, creds = deviceTls(id)): Promise<DeviceClient> {
  const client = await DeviceClient.connect({ url, id, ...creds, connectTimeoutMs: 5000 });
  clients.push(client);
  return client;
}

// The fingerprint of the certificate the broker presents to a new connection.
function servedFingerprint(port: number): Promise<string> {
  const { cert, key } = deviceTls('kiosk-tls');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pem('ca.crt'), cert, key }, () => {
      const fp = certFingerprint(socket.getPeerCertificate().raw);
      socket.destroy();
      resolve(fp);
    });
    socket.once('error', reject);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

test.before(async () => {
  rulesDir = copyRules();
  dirs.push(rulesDir);
  tlsDir = path.join(rulesDir, 'tls');
  const out = ferry(['tls', 'make-test-ca', '--out', tlsDir, '--device', 'kiosk-tls', '--device', 'kiosk-tls2']);
  fingerprints = YAML.parse(out) as Record<string, string>;
  otherCa = tempDir('other-ca');
  dirs.push(otherCa);
  ferry(['tls', 'make-test-ca', '--out', otherCa, '--device', 'kiosk-tls']);
  enableTls(rulesDir, { tlsPort: 0 });
  gw = await startTestGateway({ rulesDir });
  tlsUrl = `mqtts://localhost:${gw.inner.broker.tlsPort}`;
});

test.after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await gw?.close();
  await Promise.all(children.map(stopChild));
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('make-test-ca prints each device fingerprint as openssl computes it', () => {
  const printed = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', path.join(tlsDir, 'devices/kiosk-tls.crt')], { encoding: 'utf8' });
  assert.is(printed.trim().split('=')[1], fingerprints['kiosk-tls']);
  assert.is.not(fingerprints['kiosk-tls'], fingerprints['kiosk-tls2']);
});

test('a device with a registered client certificate logs in on the TLS port without a password and is served', async () => {
  const kiosk = await tlsDevice('kiosk-tls', tlsUrl);
  const reply = await kiosk.request('bill.query', { patientId: 'P-TLS-1' });
  assert.is(reply.type, 'bill.list');
});

test('plain MQTT to the TLS port is refused, even with a correct password', async () => {
  const outcome = await refusalCode(`mqtt://127.0.0.1:${gw.inner.broker.tlsPort}`, { clientId: 'kiosk-01', username: 'kiosk-01', password: demoPassword('kiosk-01')! });
  assert.is.not(outcome, 0);
});

test('a client certificate from another CA is refused in the TLS handshake', async () => {
  const creds = { ...deviceTls('kiosk-tls', otherCa), ca: pem('ca.crt') };
  const outcome = await refusalCode(tlsUrl, { clientId: 'kiosk-tls', username: 'kiosk-tls', ...creds });
  assert.is.not(outcome, 0);
  assert.type(outcome, 'string', 'no CONNACK: the connection ended before MQTT');
});

test('a device without a client certificate is refused when certificates are required', async () => {
  const outcome = await refusalCode(tlsUrl, { clientId: 'kiosk-01', username: 'kiosk-01', password: demoPassword('kiosk-01')!, ca: pem('ca.crt') });
  assert.is.not(outcome, 0);
});

test('a valid certificate registered for another device is refused at CONNECT (not authorized)', async () => {
  const creds = deviceTls('kiosk-tls2');
  const outcome = await refusalCode(tlsUrl, { clientId: 'kiosk-tls', username: 'kiosk-tls', ...creds });
  assert.is(outcome, 5);
});

test('renewed certificates are loaded on SIGHUP and connected devices keep being served', async () => {
  const dataDir = tempDir('tls-data');
  dirs.push(dataDir);
  const [mqttPort, tlsPort] = [await freePort(), await freePort()];
  const procRules = copyRules();
  dirs.push(procRules);
  fs.cpSync(tlsDir, path.join(procRules, 'tls'), { recursive: true });
  enableTls(procRules, { tlsPort });
  const inner = spawn(process.execPath, [INNER_MAIN, '--rules', procRules, '--data', dataDir, '--mqtt-host', '127.0.0.1',
    '--mqtt-port', String(mqttPort), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(inner);
  await waitFor(() => canConnect(tlsPort), START_TIMEOUT_MS, 'the inner side to listen on its TLS port');

  const url = `mqtts://localhost:${tlsPort}`;
  const kiosk = await tlsDevice('kiosk-tls', url);
  let reconnects = 0;
  kiosk.on('status', (status) => { if (status !== 'connected') reconnects += 1; });
  const before = await servedFingerprint(tlsPort);
  assert.is(before, certFingerprint(fs.readFileSync(path.join(procRules, 'tls/server.crt'))));

  // The same CA issues a new broker certificate; device certificates stay as they are.
  ferry(['tls', 'make-test-ca', '--out', path.join(procRules, 'tls')]);
  const renewed = certFingerprint(fs.readFileSync(path.join(procRules, 'tls/server.crt')));
  assert.is.not(renewed, before);
  inner.kill('SIGHUP');
  await waitFor(async () => (await servedFingerprint(tlsPort)) === renewed, START_TIMEOUT_MS, 'the renewed certificate to be served');

  const reply = await kiosk.request('bill.query', { patientId: 'P-TLS-2' });
  assert.is(reply.type, 'bill.list', 'the device connected before the reload is still served');
  assert.is(reconnects, 0, 'and was never disconnected');
  const second = await tlsDevice('kiosk-tls2', url);
  assert.is((await second.request('bill.query', { patientId: 'P-TLS-3' })).type, 'bill.list', 'a new device logs in after the reload');
  await kiosk.close();
  await second.close();
  await stopChild(inner);
});

test('payment.tls with a certificate but no key is refused with file:line', () => {
  const dir = copyRules();
  dirs.push(dir);
  const file = path.join(dir, 'gateway.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  doc.setIn(['payment', 'tls'], doc.createNode({ cert: 'gateway.yaml' }));
  fs.writeFileSync(file, doc.toString());
  assert.throws(() => loadRules(dir), (err: Error) => /gateway\.yaml:\d+:\d+: payment\.tls: a client certificate needs both cert and key/.test(err.message));
});

test('the payment simulator on HTTPS refuses a client without a certificate when mutual TLS is required', async () => {
  const sim = new PaymentServerSim();
  const { url } = await sim.start({ host: '127.0.0.1', port: 0, secret: 'x'.repeat(40), tls: { cert: pem('payment-server.crt'), key: pem('payment-server.key'), ca: pem('ca.crt'), requireClientCert: true } });
  try {
    const port = new URL(url).port;
    const status = await new Promise<number | string>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/v1/payments/x', servername: 'localhost', ca: pem('ca.crt'), agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', (err) => resolve(err.message));
    });
    assert.type(status, 'string', `refused before any HTTP answer (got ${status})`);
  } finally {
    await sim.stop();
  }
});

test('a bill is paid end to end with the payment server on HTTPS requiring the gateway client certificate', async () => {
  const dir = copyRules();
  dirs.push(dir);
  fs.cpSync(tlsDir, path.join(dir, 'tls'), { recursive: true });
  enableTls(dir, { tlsPort: 0, paymentTls: true });
  const dataDir = tempDir('tls-pay');
  dirs.push(dataDir);
  const loaded = loadRules(dir);
  const secret = loaded.gateway.payment.secret;
  const sim = new PaymentServerSim();
  const { url: simUrl } = await sim.start({ host: '127.0.0.1', port: 0, secret, tls: { cert: pem('payment-server.crt'), key: pem('payment-server.key'), ca: pem('ca.crt'), requireClientCert: true } });
  assert.match(simUrl, /^https:/);
  const paymentUrl = `https://localhost:${new URL(simUrl).port}`;
  const gateway = applyOverrides(loaded.gateway, { rulesDir: dir, dataDir, values: { 'mqtt-host': '127.0.0.1', 'mqtt-port': '0' } });
  let inner: RunningInner | undefined;
  let outer: ChildProcess | undefined;
  try {
    inner = await startInner({ rules: { ...loaded, gateway }, dataDir, log: quietLog });
    // The real outer process, so that gateway.yaml payment.tls is what gives it its certificate.
    const notifyPort = await freePort();
    outer = spawn(process.execPath, [OUTER_MAIN, '--rules', dir, '--data', dataDir, '--payment-url', paymentUrl,
      '--notify-host', '127.0.0.1', '--notify-port', String(notifyPort), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(outer);
    sim.setNotifyUrl(`http://127.0.0.1:${notifyPort}/v1/notifications`);
    const running = inner;
    await waitFor(() => running.payments.outerConnected, START_TIMEOUT_MS, 'the outer side to connect');

    const mqttUrl = `mqtt://127.0.0.1:${inner.broker.port}`;
    const desk = await DeviceClient.connect({ url: mqttUrl, id: 'billing-01', password: demoPassword('billing-01')! });
    clients.push(desk);
    const created = await desk.request('bill.create', { patientId: 'P-TLS-9', reference: 'INV-TLS-9', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    assert.is(created.type, 'bill.created', JSON.stringify(created.body));
    const billId = (created.body as { billId: string }).billId;
    const kiosk = await tlsDevice('kiosk-tls', `mqtts://localhost:${inner.broker.tlsPort}`);
    const result = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
    assert.is(result.type, 'payment.result', JSON.stringify(result.body));
    const body = result.body as { status: string; orderId: string };
    assert.is(body.status, 'succeeded');
    assert.is(sim.chargesFor(body.orderId), 1);
    await desk.close();
    await kiosk.close();
  } finally {
    if (outer) await stopChild(outer);
    await inner?.close();
    await sim.stop();
  }
});

test.run();
