// The measuring half of the aged-store step, run as a child with the inner side's V8
// flags (runtime/common/node-flags.ts; FERRY_BENCH_NODE_FLAGS_INNER replaces them), as
// `ferry start` runs the inner side: with V8's
// defaults the bench process's young generation is eight times the inner side's, and its
// scavenges and full collections were what the stall figures below measured. The bench
// (bench.ts) spawns it on a generated store: node measure.js DATA-DIR JOB-JSON; it prints
// its figures as JSON on stdout and its progress on stderr.
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { loadRules } from '../../../runtime/rules/load.js';
import { applyOverrides } from '../../../runtime/rules/overrides.js';
import { startInner } from '../../../runtime/inner/inner.js';
import type { Store } from '../../../runtime/inner/store/store.js';
import { HospitalDay } from '../../../runtime/common/hospital-day.js';
import { queryPage } from '../../../runtime/inner/management/query.js';
import type { QueryKindName } from '../../../runtime/inner/management/columns.js';
import type { QueryFilters } from '../../../runtime/inner/management/kinds.js';
import { Retention } from '../../../runtime/inner/retention/retention.js';
import type { RetentionConfig } from '../../../runtime/rules/types.js';
import { EXAMPLE_RULES } from '../../load/rules.js';
import { DAY_MS, type AgedStoreFacts } from './generate.js';

// What the CLI asks for when no --limit is given, and the page size it asks with.
const CLI_ROWS_DEFAULT = 1000;
const CLI_PAGE = 500;
// How long the started side is watched for stalls (the console verifies the chain then).
export const AFTER_START_WATCH_MS = 3000;

export interface MeasureJob {
  facts: AgedStoreFacts;
  retention: RetentionConfig;
  endMs: number; // where the generated days end
  sweepDays: number; // the sweep runs this many days after endMs
}

export interface AgedStoreMeasures {
  nodeFlags: string[]; // the V8 flags the measuring process ran with
  startMs: number; // Store.open and startInner, to serving
  startStallMs: number; // worst event-loop delay while starting (rules compiled, listeners opened)
  servingStallMs: number; // worst in the AFTER_START_WATCH_MS after, when the console verifies the chain
  servingOwnMs: number | null; // of it, the longest the main thread ran between two ticks
  onlineVerify: { entries: number; seconds: number; worstStallMs: number; ok: boolean }; // on the running side, as the console does
  queries: Array<{ what: string; rows: number; ms: number }>;
  // Stalls include the time the process waited for a CPU: on a busy machine the worst
  // one says more about the machine than about the sweep; the count over 10 ms less so.
  retention: {
    seconds: number; pruned: Record<string, number>; worstStallMs: number; p99StallMs: number; stallsOver10Ms: number;
    ownWorstMs: number | null; // the longest the main thread ran between two 1 ms ticks (Linux)
    control: { seconds: number; worstMs: number; over10: number }; // the same probe over work that never blocks
  };
}

export async function measureAgedStore(dataDir: string, job: MeasureJob, say: (line: string) => void): Promise<AgedStoreMeasures> {
  const { facts, retention, endMs } = job;
  let t: number;
  const loaded = loadRules(EXAMPLE_RULES);
  const gateway = {
    ...applyOverrides(loaded.gateway, {
      rulesDir: EXAMPLE_RULES, dataDir,
      values: { 'mqtt-host': '127.0.0.1', 'mqtt-port': '0', 'notify-host': '127.0.0.1', 'notify-port': '0', 'management-port': '0' },
    }),
    retention,
  };
  const rules = { ...loaded, gateway };
  const log = pino({ level: 'silent' });

  const startDelay = monitorEventLoopDelay({ resolution: 5 });
  startDelay.enable();
  t = performance.now();
  const inner = await startInner({ rules, gatewayFile: loaded.gateway, dataDir, log });
  const startMs = performance.now() - t;
  startDelay.disable();
  // From serving on: the console's first audit verification and feed read run now.
  const servingDelay = monitorEventLoopDelay({ resolution: 1 });
  servingDelay.enable();
  const servingDrift = driftProbe();
  try {
    await sleep(AFTER_START_WATCH_MS);
    servingDelay.disable();
    const startStallMs = startDelay.max / 1e6;
    const servingOwnMs = servingDrift.ownWorstMs();
    const servingStallMs = Math.max(servingDelay.max / 1e6, servingDrift.stop());
    say(`aged store: started in ${startMs.toFixed(0)} ms (worst stall while starting ${startStallMs.toFixed(1)} ms); worst stall ${servingStallMs.toFixed(1)} ms over the first ${AFTER_START_WATCH_MS / 1000} s serving`);

    // The verification the console runs at start and every few minutes, on the running
    // side, with the stall it causes.
    const verifyDelay = monitorEventLoopDelay({ resolution: 1 });
    verifyDelay.enable();
    t = performance.now();
    const online = await inner.store.verifyAudit();
    const onlineVerify = { entries: online.entries, seconds: (performance.now() - t) / 1000, worstStallMs: 0, ok: online.ok };
    verifyDelay.disable();
    onlineVerify.worstStallMs = verifyDelay.max / 1e6;
    say(`aged store: audit verify on the running side ${online.entries} entries in ${onlineVerify.seconds.toFixed(2)} s, worst stall ${onlineVerify.worstStallMs.toFixed(1)} ms`);

    const day = new HospitalDay(gateway.timeZone);
    const queries: AgedStoreMeasures['queries'] = [];
    const ask = async (what: string, kind: QueryKindName, filters: QueryFilters, maxRows = CLI_ROWS_DEFAULT) => {
      const started = performance.now();
      const rows = await follow(inner.store, day, kind, filters, maxRows);
      const ms = performance.now() - started;
      queries.push({ what, rows, ms });
      say(`aged store: query ${what}: ${rows} rows in ${ms.toFixed(1)} ms`);
    };
    await ask(`payments --patient ${facts.samplePatient}`, 'payments', { patient: facts.samplePatient });
    await ask(`payments --order ${facts.sampleOrder}`, 'payments', { order: facts.sampleOrder });
    await ask(`bills --patient ${facts.samplePatient}`, 'bills', { patient: facts.samplePatient });
    await ask(`registrations --patient ${facts.samplePatient}`, 'registrations', { patient: facts.samplePatient });
    await ask(`audit --order ${facts.sampleOrder}`, 'audit', { order: facts.sampleOrder });
    await ask(`payments --date ${facts.sampleDay}`, 'payments', { date: facts.sampleDay });
    await ask(`payments --date ${facts.sampleDay} --limit 100000`, 'payments', { date: facts.sampleDay }, 100_000);
    await ask(`dispatches --date ${facts.sampleDay}`, 'dispatches', { date: facts.sampleDay });
    await ask(`bills --date ${facts.sampleDay}`, 'bills', { date: facts.sampleDay });
    await ask(`audit --date ${facts.sampleDay}`, 'audit', { date: facts.sampleDay });

    // The retention sweep, on the running side, as its daily run is: what is past the
    // retention period `sweepDays` days from now goes.
    // The machine's own stalls, for comparison: 1 ms chunks of work, yielding between them,
    // see the time the process waits for a CPU on a shared machine.
    const control = await controlStalls(CONTROL_MS);
    say(`aged store: control (1 ms chunks of work for ${CONTROL_MS / 1000} s): worst stall ${control.worstMs.toFixed(1)} ms, ${control.over10} over 10 ms`);
    const sweepNow = new Date(endMs + job.sweepDays * DAY_MS + DAY_MS / 2);
    const sweep = new Retention({ store: inner.store, config: retention, day, now: () => sweepNow, log });
    const sweepDelay = monitorEventLoopDelay({ resolution: 1 });
    const drift = driftProbe();
    sweepDelay.enable();
    t = performance.now();
    const report = await sweep.run();
    const sweepSeconds = (performance.now() - t) / 1000;
    sweepDelay.disable();
    const ownWorstMs = drift.ownWorstMs();
    const worstStallMs = Math.max(sweepDelay.max / 1e6, drift.stop());
    say(`aged store: retention swept in ${sweepSeconds.toFixed(1)} s, worst stall ${worstStallMs.toFixed(1)} ms: ${JSON.stringify(report.pruned)}`);
    const retentionResult = { seconds: sweepSeconds, pruned: report.pruned, worstStallMs, p99StallMs: sweepDelay.percentile(99) / 1e6, stallsOver10Ms: drift.over10(), ownWorstMs, control };

    await inner.close();
    return {
      nodeFlags: process.execArgv.filter((a) => a.startsWith('--')),
      startMs, startStallMs, servingStallMs, servingOwnMs, onlineVerify, queries, retention: retentionResult,
    };
  } finally {
    await inner.close().catch(() => undefined);
  }
}

// What `ferry query` does: pages of 500, following the cursor until it is null or the
// rows asked for are in.
async function follow(store: Store, day: HospitalDay, kind: QueryKindName, filters: QueryFilters, maxRows: number): Promise<number> {
  let rows = 0;
  let cursor: string | undefined;
  for (;;) {
    const page = await queryPage(store, day, { kind, filters, limit: Math.min(CLI_PAGE, maxRows - rows), unmask: false, ...(cursor ? { cursor } : {}) });
    rows += page.items.length;
    if (page.nextCursor === null || rows >= maxRows) return rows;
    cursor = page.nextCursor;
  }
}

const CONTROL_MS = 5000;

async function controlStalls(ms: number): Promise<{ seconds: number; worstMs: number; over10: number }> {
  const probe = driftProbe();
  const until = performance.now() + ms;
  await new Promise<void>((resolve) => {
    const work = () => {
      const start = performance.now();
      while (performance.now() - start < 1) { /* a 1 ms task */ }
      if (performance.now() < until) setImmediate(work);
      else resolve();
    };
    work();
  });
  const over10 = probe.over10();
  return { seconds: ms / 1000, worstMs: probe.stop(), over10 };
}

// The longest gap between 1 ms timers: a stall as a timer on the hot path would see it.
// Also, from the main thread's own run time (Linux schedstat, in ns), how much of the
// longest gap it spent running: a gap the process spent waiting for a CPU is the
// machine's, one it spent running is a task that blocked.
function driftProbe(): { stop(): number; over10(): number; ownWorstMs(): number | null } {
  let last = performance.now();
  let worst = 0;
  let over10 = 0;
  let lastRun = mainThreadRunNs();
  let ownWorst = lastRun === null ? null : 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    if (now - last - 1 > 10) over10 += 1;
    last = now;
    const run = mainThreadRunNs();
    if (run !== null && lastRun !== null && ownWorst !== null) ownWorst = Math.max(ownWorst, (run - lastRun) / 1e6);
    lastRun = run;
  }, 1);
  return {
    over10: () => over10,
    ownWorstMs: () => ownWorst,
    stop() {
      clearInterval(timer);
      return worst;
    },
  };
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

function mainThreadRunNs(): number | null {
  try {
    return Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, job] = process.argv.slice(2);
  const measures = await measureAgedStore(dir!, JSON.parse(job!) as MeasureJob, (line) => process.stderr.write(`bench: ${line}\n`));
  process.stdout.write(`${JSON.stringify(measures)}\n`);
}
