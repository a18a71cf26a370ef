// npm run bench: in one run on one machine, (a) request/reply through a plain Aedes
// broker with an echo responder, (b) the same clients paying bills through Ferry's inner
// and outer processes and the payment simulator, each at the maximum rate and at half of
// it, and (c) idle device connections and a reconnect storm. Prints the figures and
// writes them, with the machine described, as JSON (BENCHMARKS.md says how to read them).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from '../load/machine.js';
import { writeLoadRules } from '../load/rules.js';
import { BENCH_HELP, benchConfig } from './config.js';
import { baselinePhase, ferryPhases } from './phases.js';
import { BENCH_SCHEMA_VERSION, formatResults, writeResults, type BenchResults } from './report.js';
import { runStoreBench } from './store-bench.js';
import { runAgedStoreBench } from './aged-store/bench.js';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

if (process.argv.includes('--help')) {
  console.log(BENCH_HELP);
  process.exit(0);
}
const cfg = benchConfig(process.argv.slice(2), process.env, PROJECT);
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const started = Date.now();
const machine = describeMachine();
if (machine.loadAverage[0]! > 0.5) say(`the machine is busy (load ${machine.loadAverage.join(' ')}): figures will be low and noisy`);

// The idle part connects the billing desk too, so 10,000 devices fit the rules' limit.
const rules = writeLoadRules(Math.max(cfg.concurrency, cfg.idle - 1, 1));
try {
  say(cfg.storeTransactions > 0 ? `store: ${cfg.storeTransactions} transactions` : 'store bench skipped');
  const store = cfg.storeTransactions > 0 ? await runStoreBench(cfg.storeTransactions) : null;
  const aged = cfg.agedDays > 0 ? await runAgedStoreBench({ days: cfg.agedDays, paymentsPerDay: cfg.agedPayments, sweepDays: 1, say }) : null;
  say(`baseline: plain Aedes with an echo responder, ${cfg.payments} requests`);
  const baseline = await baselinePhase(cfg, rules, say);
  say(`ferry: ${cfg.payments} payments`);
  const { ferry, idle } = await ferryPhases(cfg, rules, say);
  const { out: _out, cpuProfDir: _prof, ...sizes } = cfg;
  const results: BenchResults = {
    schema: BENCH_SCHEMA_VERSION, startedAt: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 100) / 10,
    machine, loadAverageAfter: describeMachine().loadAverage, sizes, store, aged, baseline, ferry,
    ratio: Math.round((ferry.max.achievedPerSecond / baseline.max.achievedPerSecond) * 1000) / 1000,
    idle: idle ?? null,
  };
  writeResults(cfg.out, results);
  console.log(formatResults(results));
  console.log(`results: ${path.relative(process.cwd(), cfg.out) || cfg.out}`);
} finally {
  rules.remove();
}
