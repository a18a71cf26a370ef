// The load generator: a fleet of devices sends a mix of requests to a real
// gateway, closed-loop or open-loop, and reports what was answered, what was refused and
// the latency percentiles; a reconnect storm brings every dropped device back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { startTestGateway, tempDir, type TestGateway } from './helpers/gateway.js';
import { loadTest } from '../sim/load/load-test.js';
import { writeLoadRules, LOAD_DEVICES_FILE, type LoadRules } from '../sim/load/rules.js';
import { LatencyHistogram } from '../sim/load/histogram.js';
import { parseMix, planOps, localDate } from '../sim/load/workload.js';
import { parseDevicesFile, readDevicesFile } from '../sim/load/devices-file.js';
import { loadRules } from '../runtime/rules/load.js';
import { main } from '../runtime/cli/main.js';

const DEVICES = 12;
let rules: LoadRules;
let gw: TestGateway;

test.before(async () => {
  rules = writeLoadRules(DEVICES);
  gw = await startTestGateway({ rulesDir: rules.rulesDir });
});

test.after(async () => {
  await gw?.close();
  rules?.remove();
});

const registering = () => ({ depts: rules.depts, sessions: ['morning', 'afternoon'], date: localDate(1) });

test('a closed-loop run of a mixed load gets every request answered as expected, and each payment charged once', async () => {
  const chargesBefore = gw.sim.totalCharges();
  const r = await loadTest({
    url: gw.mqttUrl, kiosks: rules.kiosks, desk: rules.desk, mix: parseMix('pay=1,query=1,register=1'),
    requests: 60, mode: 'closed', registering: registering(), storm: 4,
  });
  assert.is(r.connect.devices, DEVICES);
  assert.is(r.bills.count, 20);
  assert.equal(r.run.errors, {});
  assert.is(r.run.answered, 60);
  assert.is(r.run.byOp.pay?.ok, 20);
  assert.is(r.run.byOp.query?.ok, 20);
  assert.is(r.run.byOp.register?.ok, 20);
  assert.is(r.run.latencyMs.count, 60);
  assert.ok(r.run.latencyMs.p50 <= r.run.latencyMs.p99 && r.run.latencyMs.p99 <= r.run.latencyMs.max);
  assert.is(gw.sim.totalCharges() - chargesBefore, 20);
  assert.is(r.storm?.dropped, 4);
  assert.is(r.storm?.reconnected, 4);
});

test('an open-loop run offers requests at its rate and reports every one answered, none shed', async () => {
  const r = await loadTest({
    url: gw.mqttUrl, kiosks: rules.kiosks.slice(0, 5), desk: rules.desk, mix: parseMix('pay=1,query=1'),
    requests: 40, mode: 'open', rate: 200,
  });
  assert.is(r.run.mode, 'open');
  assert.is(r.run.offeredPerSecond, 200);
  assert.is(r.run.answered, 40);
  assert.is(r.run.shed, 0);
  assert.equal(r.run.errors, {});
});

test('a refused request is counted under its error code, not as answered', async () => {
  const r = await loadTest({
    url: gw.mqttUrl, kiosks: rules.kiosks.slice(0, 3), mix: parseMix('register'), requests: 6, mode: 'closed',
    registering: { depts: ['NOPE'], sessions: ['morning'], date: localDate(1) },
  });
  assert.is(r.run.answered, 0);
  assert.equal(r.run.errors, { UNKNOWN_DEPT: 6 });
});

test('latency percentiles from the bounded histogram are within 3 % of the exact ones', () => {
  const h = new LatencyHistogram();
  for (let ms = 1; ms <= 10_000; ms += 1) h.recordMs(ms);
  const near = (got: number, want: number) => assert.ok(Math.abs(got - want) / want <= 0.03, `${got} vs ${want}`);
  near(h.percentileMs(50), 5000);
  near(h.percentileMs(95), 9500);
  near(h.percentileMs(99), 9900);
  assert.is(h.summary().max, 10_000);
  assert.is(h.count, 10_000);
  assert.is(new LatencyHistogram().percentileMs(99), 0);
});

test('a mix is planned in exactly its proportions, and an unknown operation is refused', () => {
  const ops = planOps(parseMix('pay=2,query=1,register=1'), 40);
  assert.is(ops.filter((o) => o === 'pay').length, 20);
  assert.is(ops.filter((o) => o === 'query').length, 10);
  assert.is(ops.filter((o) => o === 'register').length, 10);
  assert.throws(() => parseMix('pay=1,refund=1'), /unknown operation/);
  assert.throws(() => parseMix('pay=0'), /names no operation/);
});

test('a devices file is read as id:password lines, skipping comments, and a bad line is named by its number', () => {
  assert.equal(parseDevicesFile('# kiosks\nk1:pw:with:colons\n\nk2:x\n'), [{ id: 'k1', password: 'pw:with:colons' }, { id: 'k2', password: 'x' }]);
  assert.throws(() => parseDevicesFile('k1:a\nk2\n', 'd.txt'), /d\.txt:2: expected id:password/);
  assert.throws(() => parseDevicesFile('k1:a\nk1:b\n', 'd.txt'), /d\.txt:2: device k1 is listed twice/);
});

test('ferry sim load --write-rules writes rules that load, and a devices file naming every device', async () => {
  const dir = path.join(tempDir('load-cli'), 'rules');
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let status: number;
  try {
    status = await main(['sim', 'load', '--write-rules', dir, '--devices', '5']);
  } finally {
    process.stdout.write = write;
  }
  try {
    assert.is(status, 0);
    const loaded = loadRules(dir);
    const listed = readDevicesFile(path.join(dir, LOAD_DEVICES_FILE));
    assert.equal(listed.map((d) => d.id), ['load-desk', 'load-00001', 'load-00002', 'load-00003', 'load-00004', 'load-00005']);
    for (const d of listed) assert.ok(loaded.devices.has(d.id), d.id);
    assert.is(loaded.devices.get('load-desk')?.role, 'billing_desk');
    assert.ok(loaded.departments.departments.has('LOAD01'));
  } finally {
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test.run();
