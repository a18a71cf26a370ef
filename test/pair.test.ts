// Two gateway boxes on one PostgreSQL as real processes (docs/ha.md): the one that takes
// the leader lock listens for devices, the other is a standby with no MQTT port that
// says so on /readyz and /metrics; the active one steps down and exits the moment its
// lock session is ended from PostgreSQL, and the standby takes over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { ProcessGateway, canConnect, freePort } from '../sim/gateway-processes.js';
import { SIDE_EXIT } from '../runtime/common/side-exit.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';
import { loadGatewayConfig } from '../runtime/rules/load.js';
import { configurePairBox, postgresUnavailable, startPostgres, testWithPostgres, type TestPostgres } from './helpers/postgres.js';
import { copyRules, tempDir, waitFor } from './helpers/gateway.js';
import { cheapHash } from '../sim/hospital/rules.js';
import { DeviceClient } from '../devices/client.js';

const skip = postgresUnavailable();
const TOKEN = 'pair-test-read-token-0123456789abcdef';
const START_MS = 20_000;

let server: TestPostgres | undefined;
let sim: PaymentServerSim | undefined;
let url = '';
let rulesDir = '';
const boxes: ProcessGateway[] = [];
const dirs: string[] = [];

test.before(async () => {
  if (skip) return;
  server = await startPostgres();
  url = await server.createDatabase('pair');
  rulesDir = copyRules();
  dirs.push(rulesDir);
  configurePairBox(rulesDir, url, { port: 8470, token: TOKEN });
  sim = new PaymentServerSim();
  const { url: paymentUrl } = await sim.start({ host: '127.0.0.1', port: 0, secret: loadGatewayConfig(rulesDir).payment.secret });
  for (const name of ['a', 'b']) {
    const dataDir = tempDir(`pair-${name}`);
    dirs.push(dataDir);
    boxes.push(await ProcessGateway.create({ dataDir, rulesDir, paymentUrl, managementPort: await freePort() }));
  }
});

test.after(async () => {
  for (const box of boxes) {
    await box.kill('outer', 'SIGKILL');
    await box.kill('inner', 'SIGKILL');
  }
  await sim?.stop();
  await server?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function get(box: ProcessGateway, route: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${box.managementUrl}${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

// 0 while nothing answers (a box between standby and active, or down).
async function readyStatus(box: ProcessGateway): Promise<number> {
  return get(box, '/readyz').then((r) => r.status, () => 0);
}

async function terminateLockSession(box: ProcessGateway): Promise<void> {
  const client = new pg.Client({ connectionString: server!.url() });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = 'pair' AND application_name LIKE $1", [`ferry-ha %:${box.pid('inner')}`]);
    assert.is(rows.length, 1, 'the box has one lock session');
    await client.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  } finally {
    await client.end();
  }
}

const run = testWithPostgres(test, skip);

run('the first box to start is active and listens for devices; the second is a standby with no MQTT port that says standby on /readyz and /metrics', async () => {
  const [a, b] = boxes as [ProcessGateway, ProcessGateway];
  await a.startInner(); // resolves once MQTT listens: active
  await a.startOuter();
  await waitFor(async () => (await readyStatus(a)) === 200, START_MS, 'box a ready');
  const active = await get(a, '/readyz');
  assert.is(active.body.role, 'active');
  assert.match(active.body.checks.find((c: { name: string }) => c.name === 'role').detail, /^active \(epoch 1, /);
  await b.startInner({ until: 'management' });
  await b.startOuter();
  const standby = await get(b, '/readyz');
  assert.is(standby.status, 503);
  assert.is(standby.body.error, 'STANDBY');
  assert.match((await get(b, '/readyz/inner')).body.checks[0].detail, new RegExp(`another box holds the leader lock \\(.*:${a.pid('inner')}, epoch 1\\)`));
  assert.not.ok(await canConnect(b.mqttPort), 'the standby opens no MQTT port');
  assert.match((await get(b, '/metrics', TOKEN)).body, /ferry_ha_role\{role="standby"\} 1/);
  const metricsA = (await get(a, '/metrics', TOKEN)).body as string;
  assert.match(metricsA, /ferry_ha_role\{role="active"\} 1/);
  assert.match(metricsA, /ferry_ha_epoch 1\n/);
  const consoleA = (await get(a, '/v1/console', TOKEN)).body as { ha: { role: string; epoch: string; holder: string } | null };
  assert.is(consoleA.ha?.role, 'active');
  assert.is(consoleA.ha?.epoch, '1');
  assert.match(consoleA.ha?.holder ?? '', new RegExp(`:${a.pid('inner')}$`));
  assert.is((await get(b, '/v1/console', TOKEN)).body.error, 'STANDBY', 'a standby serves no console');
});

run('the active box whose lock session is ended from PostgreSQL closes its MQTT port and exits with status 5; the standby takes over with epoch 2 and the rule files as they are by then; restarted, the old one is the standby', async () => {
  const [a, b] = boxes as [ProcessGateway, ProcessGateway];
  // While B waits, a kiosk is added to the rule files; B's reload signal changes nothing yet.
  const file = path.join(rulesDir, 'devices.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  (doc.get('devices') as YAML.YAMLSeq).add(doc.createNode({ id: 'kiosk-new', role: 'kiosk', password: cheapHash('pw-kiosk-new') }));
  fs.writeFileSync(file, doc.toString());
  process.kill(b.pid('inner')!, 'SIGHUP');
  assert.is((await get(b, '/readyz')).body.role, 'standby', 'a standby survives SIGHUP');
  const exited = a.exited('inner');
  await terminateLockSession(a);
  assert.equal(await exited, { code: SIDE_EXIT.steppedDown, signal: null });
  assert.not.ok(await canConnect(a.mqttPort), 'the stepped-down box listens for no device');
  await waitFor(async () => (await readyStatus(b)) === 200, START_MS, 'box b takes over');
  assert.ok(await canConnect(b.mqttPort), 'the new active box listens for devices');
  assert.match((await get(b, '/metrics', TOKEN)).body, /ferry_ha_epoch 2\n/);
  const added = await DeviceClient.connect({ url: b.mqttUrl, id: 'kiosk-new', password: 'pw-kiosk-new', connectTimeoutMs: 10_000 });
  await added.close();
  await a.startInner({ until: 'management' });
  assert.is((await get(a, '/readyz')).body.role, 'standby');
});

test.run();
