// The default hospital day runs with every invariant holding, and a day with a broken
// payment server is reported as FAIL, so the checker is known to work. Both days run
// four times faster than real time (the simulator, the payment server and both gateway
// processes on one scaled clock): the same patients, flows and checks in a quarter of
// the wait.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { loadScenario } from '../sim/hospital/scenario.js';
import { runHospital } from '../sim/hospital/run.js';
import { PROJECT_DIR } from './helpers/gateway.js';
import { TEST_STORE, freshStoreUrl } from './helpers/store-backend.js';

const SPEED = 4;

test('the default hospital day runs every flow and every invariant holds', async () => {
  // The PostgreSQL pass runs the same day with the store on a fresh database.
  const onPostgres = TEST_STORE === 'postgres' ? { postgresUrl: await freshStoreUrl() } : {};
  const report = await runHospital(loadScenario('default'), { speed: SPEED, ...onPostgres });
  const flows = new Map(report.flows.map((f) => [f.flow, f]));
  for (const flow of ['registration', 'bill payment (wallet code)', 'bill payment (scan-to-pay)', 'cancellation', 'patient information']) {
    assert.ok((flows.get(flow)?.ok ?? 0) > 0, `${flow} happened: ${JSON.stringify(flows.get(flow))}`);
    assert.is(flows.get(flow)!.failed, 0, `${flow} never failed: ${JSON.stringify(flows.get(flow)!.reasons)}`);
  }
  for (const i of report.invariants) assert.ok(i.ok, `${i.invariant}: ${i.problems.join('; ')}`);
  assert.ok(report.ok);
});

test('a day with a payment server that charges twice fails the "charged twice" invariant and exits non-zero', () => {
  const run = spawnSync(process.execPath, [path.join(PROJECT_DIR, 'bin/ferry.js'), 'sim', 'hospital', '--scenario', 'broken-payment-server', '--speed', String(SPEED), '--json'], {
    encoding: 'utf8', timeout: 120_000,
  });
  assert.is(run.status, 1, run.stderr);
  const report = JSON.parse(run.stdout) as { ok: boolean; invariants: Array<{ invariant: string; ok: boolean }> };
  assert.is(report.ok, false);
  const failed = report.invariants.filter((i) => !i.ok).map((i) => i.invariant);
  assert.equal(failed, ['2. no payment charged twice'], 'exactly the broken invariant fails');
});

test('a speed that is not a number from 1 to 10 is refused as a usage error before anything starts', () => {
  for (const speed of ['0', 'fast', '11']) {
    const run = spawnSync(process.execPath, [path.join(PROJECT_DIR, 'bin/ferry.js'), 'sim', 'hospital', '--speed', speed], { encoding: 'utf8', timeout: 20_000 });
    assert.is(run.status, 2, `--speed ${speed}: ${run.stderr}`);
    assert.match(run.stderr, /--speed must be a number from 1 to 10/);
  }
});

test.run();
