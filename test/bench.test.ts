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

test('npm run bench at tiny sizes measures every generator against both brokers in rounds and writes every field of its JSON', async () => {
  const dir = tempDir('bench');
  const out = path.join(dir, 'results.json');
  try {
    const env = {
      ...process.env, FERRY_BENCH_SECONDS: '0.4', FERRY_BENCH_WARMUP_SECONDS: '0.2', FERRY_BENCH_ROUNDS: '2', FERRY_BENCH_CONCURRENCY: '3',
      FERRY_BENCH_IDLE: '6', FERRY_BENCH_STORM: '2', FERRY_BENCH_STORE_TX: '50', FERRY_BENCH_OUT: out,
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
    assert.match(stdout, /lean: rate ratio Ferry \/ plain Aedes at 3 in flight/);
    assert.match(stdout, /device: gateway CPU \(inner \+ outer\) per payment \/ echo broker CPU per round trip/);

    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.is(r.schema, 2);
    for (const key of ['cpus', 'model', 'memoryGiB', 'node', 'kernel', 'loadAverage']) assert.ok(r.machine[key] !== undefined, `machine.${key}`);
    assert.equal(r.sizes, { seconds: 0.4, warmupSeconds: 0.2, rounds: 2, generators: ['lean', 'device'], concurrency: 3, idle: 6, storm: 2, storeTransactions: 50, agedDays: 3, agedPayments: 40 });
    assert.is(r.store.transactions, 50);
    assert.is(r.aged.facts.payments, 3 * 40);
    assert.ok(r.aged.bytesPerPayment > 0 && r.aged.startMs > 0 && r.aged.auditVerify.ok && r.aged.auditVerify.entries > 3 * 40);
    for (const q of r.aged.queries) assert.ok(q.rows >= 0 && q.ms > 0, q.what);
    assert.ok(r.aged.queries.find((q: { what: string }) => q.what.startsWith('payments --order')).rows === 1);
    assert.ok(r.aged.retention.pruned.payments > 0 && r.aged.retention.worstStallMs >= 0);
    assert.equal(Object.keys(r.rounds), ['lean', 'device']);
    let measured = 0;
    for (const rounds of Object.values(r.rounds) as any[]) {
      assert.is(rounds.length, 2);
      for (const round of rounds) {
        for (const side of [round.baseline, round.ferry]) {
          for (const phase of [side.max, side.half]) {
            assert.ok(phase.answered > 0 && phase.answered === phase.requests, `${phase.answered} of ${phase.requests}`);
            assert.equal(phase.errors, {});
            assert.ok(phase.achievedPerSecond > 0);
            // Timed, not counted; a tiny phase whose rate outran the warm-up's estimate may run
            // out of bills, and says so.
            assert.ok(phase.seconds >= 0.4 || phase.endedEarly !== undefined, `${phase.seconds} s, ${phase.endedEarly ?? 'not ended early'}`);
            for (const p of ['p50', 'p95', 'p99']) assert.ok(phase.latencyMs[p] > 0, p);
          }
        }
        assert.is(round.ferry.half.mode, 'open');
        assert.ok(round.ferry.half.offeredPerSecond > 0);
        measured += round.ferry.max.answered;
        // CPU time comes in clock ticks (10 ms): at these sizes a process may show none.
        for (const name of ['inner', 'outer', 'simulator', 'clients']) assert.ok(Number.isFinite(round.ferry.cpuMsPerRequest[name]) && round.ferry.cpuMsPerRequest[name] >= 0, name);
        for (const name of ['echo', 'clients']) assert.ok(Number.isFinite(round.baseline.cpuMsPerRequest[name]), name);
      }
    }
    for (const s of Object.values(r.summary) as any[]) {
      assert.ok(s.rateRatio.median > 0 && s.rateRatio.values.length === 2);
      assert.ok(s.rateRatio.min <= s.rateRatio.median && s.rateRatio.median <= s.rateRatio.max);
      assert.ok('gatewayCpuRatio' in s && 'inner' in s.cpuMsPerRequest.ferry && 'echo' in s.cpuMsPerRequest.baseline);
    }
    for (const p of ['inner', 'outer', 'echo', 'simulator']) assert.ok(r.memory[p].peakRssMiB > 0 && r.memory[p].rssMiB > 0, p);
    assert.ok(r.payments > measured);
    assert.is(r.charges, r.payments); // one charge per payment (invariant 2), warm-ups included
    assert.is(r.idle.devices, 6);
    assert.ok(r.idle.connectMs >= 0 && r.idle.innerRssMiB > 0);
    assert.is(r.idle.storm.dropped, 2);
    assert.is(r.idle.storm.reconnected, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bench sizes come from flags before environment variables, and a size that is not a whole number is refused', () => {
  const cfg = benchConfig(['--seconds', '7', '--generators', 'device'], { FERRY_BENCH_SECONDS: '9', FERRY_BENCH_ROUNDS: '3', FERRY_BENCH_IDLE: '5', FERRY_BENCH_STORM: '50' }, '/p');
  assert.is(cfg.seconds, 7);
  assert.is(cfg.rounds, 3);
  assert.equal(cfg.generators, ['device']);
  assert.is(benchConfig(['--seconds', '0.5'], {}, '/p').seconds, 0.5);
  assert.throws(() => benchConfig(['--generators', 'lean,fast'], {}, '/p'), /generators.*not fast/);
  assert.throws(() => benchConfig(['--rounds', '1.5'], {}, '/p'), /rounds/);
  assert.is(cfg.idle, 5);
  assert.is(cfg.storm, 5); // never more than the idle devices
  assert.is(cfg.out, '/p/bench-results/latest.json');
  assert.throws(() => benchConfig([], { FERRY_BENCH_CONCURRENCY: '2.5' }, '/p'), /concurrency/);
  assert.is(cfg.pin, true); // brokers on a core of their own unless told otherwise
  assert.is(benchConfig(['--pin', 'off'], { FERRY_BENCH_PIN: 'on' }, '/p').pin, false);
  assert.throws(() => benchConfig(['--pin', 'yes'], {}, '/p'), /pin.*on or off/);
});

test.run();
