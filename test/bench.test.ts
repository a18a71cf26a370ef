// `npm run bench` at tiny sizes: it runs the baseline, Ferry as real processes
// and the idle/storm part end to end and writes its JSON with every field. No figure is
// asserted: only that each was measured.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PROJECT_DIR, tempDir } from './helpers/gateway.js';
import { benchConfig } from '../sim/bench/config.js';

const BENCH_MAIN = path.join(PROJECT_DIR, 'dist/sim/bench/main.js');
const BENCH_TIMEOUT_MS = 120_000;

test('npm run bench at tiny sizes measures all three parts and writes every field of its JSON', async () => {
  const dir = tempDir('bench');
  const out = path.join(dir, 'results.json');
  try {
    const env = {
      ...process.env, FERRY_BENCH_PAYMENTS: '20', FERRY_BENCH_WARMUP: '4', FERRY_BENCH_CONCURRENCY: '3',
      FERRY_BENCH_IDLE: '6', FERRY_BENCH_STORM: '3', FERRY_BENCH_STORE_TX: '50', FERRY_BENCH_OUT: out,
      FERRY_BENCH_AGED_DAYS: '3', FERRY_BENCH_AGED_PAYMENTS: '40',
    };
    const child = spawn(process.execPath, [BENCH_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), BENCH_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.is(code, 0, stderr);
    assert.match(stdout, /ratio \(b\)\/\(a\) at max/);

    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const key of ['cpus', 'model', 'memoryGiB', 'node', 'kernel', 'loadAverage']) assert.ok(r.machine[key] !== undefined, `machine.${key}`);
    assert.equal(r.sizes, { payments: 20, concurrency: 3, warmup: 4, idle: 6, storm: 3, storeTransactions: 50, agedDays: 3, agedPayments: 40 });
    assert.is(r.store.transactions, 50);
    assert.is(r.aged.facts.payments, 3 * 40);
    assert.ok(r.aged.bytesPerPayment > 0 && r.aged.startMs > 0 && r.aged.auditVerify.ok && r.aged.auditVerify.entries > 3 * 40);
    for (const q of r.aged.queries) assert.ok(q.rows >= 0 && q.ms > 0, q.what);
    assert.ok(r.aged.queries.find((q: { what: string }) => q.what.startsWith('payments --order')).rows === 1);
    assert.ok(r.aged.retention.pruned.payments > 0 && r.aged.retention.worstStallMs >= 0);
    for (const side of [r.baseline, r.ferry]) {
      for (const phase of [side.max, side.half]) {
        assert.is(phase.answered, 20);
        assert.equal(phase.errors, {});
        assert.ok(phase.achievedPerSecond > 0);
        for (const p of ['p50', 'p95', 'p99']) assert.ok(phase.latencyMs[p] > 0, p);
      }
    }
    // CPU time comes in clock ticks (10 ms): at these sizes a side may show none.
    for (const cpu of [r.ferry.cpuMsPerRequest.inner, r.ferry.cpuMsPerRequest.outer, r.baseline.cpuMsPerRequest.echo]) assert.ok(Number.isFinite(cpu) && cpu >= 0, String(cpu));
    assert.is(r.ferry.half.mode, 'open');
    assert.ok(r.ferry.half.offeredPerSecond > 0);
    assert.ok(r.ratio > 0);
    assert.ok(r.ferry.peakRssMiB.inner > 0 && r.ferry.peakRssMiB.outer > 0 && r.baseline.peakRssMiB.echo > 0);
    assert.is(r.ferry.charges, 4 + 20 + 20); // one charge per payment (invariant 2)
    assert.is(r.idle.devices, 6);
    assert.ok(r.idle.connectMs > 0 && r.idle.innerRssMiB > 0);
    assert.is(r.idle.storm.dropped, 3);
    assert.is(r.idle.storm.reconnected, 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bench sizes come from flags before environment variables, and a size that is not a whole number is refused', () => {
  const cfg = benchConfig(['--payments', '7'], { FERRY_BENCH_PAYMENTS: '9', FERRY_BENCH_IDLE: '5', FERRY_BENCH_STORM: '50' }, '/p');
  assert.is(cfg.payments, 7);
  assert.is(cfg.idle, 5);
  assert.is(cfg.storm, 5); // never more than the idle devices
  assert.is(cfg.out, '/p/bench-results/latest.json');
  assert.throws(() => benchConfig([], { FERRY_BENCH_CONCURRENCY: '2.5' }, '/p'), /concurrency/);
});

test.run();
