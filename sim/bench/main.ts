// npm run bench: in one run on one machine, (a) request/reply through a plain Aedes
// broker with an echo responder, (b) the same requests paying bills through Ferry's inner
// and outer processes and the payment simulator, each at the maximum rate and at half of
// it, for each load generator, in rounds that alternate (a) and (b), and (c) idle device
// connections and a reconnect storm. Prints the figures and
// writes them, with the machine described, as JSON (BENCHMARKS.md says how to read them).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from '../load/machine.js';
import { writeLoadRules } from '../load/rules.js';
import { BENCH_HELP, benchConfig } from './config.js';
import { ratePhases } from './phases.js';
import { BENCH_SCHEMA_VERSION, formatResults, summarise, writeResults, type BenchResults } from './report.js';
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

// Several billing desks make the bills of a timed run (each desk has its own rate
// limit); they count among the idle devices, so 10,000 fit the rules' limit.
const DESKS = 4;
const rules = writeLoadRules(Math.max(cfg.concurrency, cfg.idle - DESKS, 1), { desks: DESKS });
try {
  say(cfg.storeTransactions > 0 ? `store: ${cfg.storeTransactions} transactions` : 'store bench skipped');
  const store = cfg.storeTransactions > 0 ? await runStoreBench(cfg.storeTransactions) : null;
  const aged = cfg.agedDays > 0 ? await runAgedStoreBench({ days: cfg.agedDays, paymentsPerDay: cfg.agedPayments, sweepDays: 1, say }) : null;
  say(`rates: generators ${cfg.generators.join(', ')}, ${cfg.rounds} rounds of baseline then Ferry, ${cfg.seconds} s a phase after ${cfg.warmupSeconds} s of warm-up`);
  const rates = await ratePhases(cfg, rules, say);
  const { out: _out, cpuProfDir: _prof, ...sizes } = cfg;
  const results: BenchResults = {
    schema: BENCH_SCHEMA_VERSION, startedAt: new Date(started).toISOString(), seconds: Math.round((Date.now() - started) / 100) / 10,
    machine, loadAverageAfter: describeMachine().loadAverage, sizes, store, aged,
    summary: Object.fromEntries(Object.entries(rates.rounds).map(([g, rounds]) => [g, summarise(rounds)])),
    rounds: rates.rounds, memory: rates.memory, payments: rates.payments, charges: rates.charges, idle: rates.idle, pinned: rates.pinned,
  };
  writeResults(cfg.out, results);
  console.log(formatResults(results));
  console.log(`results: ${path.relative(process.cwd(), cfg.out) || cfg.out}`);
} finally {
  rules.remove();
}
