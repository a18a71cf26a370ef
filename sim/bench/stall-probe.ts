// Preloaded into a measured process (`node --import …/stall-probe.js`, through
// FERRY_BENCH_NODE_FLAGS_INNER / _OUTER / _SIMULATOR and the bench's own command line), it
// appends to FERRY_BENCH_STALL_LOG a line for every event-loop stall and every GC pause
// over a threshold, with the wall-clock time, so that tail-report.ts can set the slow
// requests of an open-loop phase beside what each process was doing then. Lines are
// small and rare; the probe's own cost is one 2 ms timer.
import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const STALL_TICK_MS = 2;
const STALL_REPORT_MS = 10; // a tick this much later than due is a stall
const GC_REPORT_MS = 5;

const file = process.env.FERRY_BENCH_STALL_LOG;
if (file) {
  const name = (process.argv[1] ?? 'node').split('/').slice(-2).join('/').replace(/\.js$/, '');
  const write = (line: string) => fs.appendFileSync(file, `${Date.now()} ${name} ${line}\n`);
  let last = Date.now();
  setInterval(() => {
    const now = Date.now();
    const late = now - last - STALL_TICK_MS;
    if (late > STALL_REPORT_MS) write(`stall ${late}`);
    last = now;
  }, STALL_TICK_MS).unref();
  const GC_KINDS: Record<number, string> = { 1: 'gc-minor', 2: 'gc-major', 4: 'gc-incremental', 8: 'gc-weak', 16: 'gc-major' };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration <= GC_REPORT_MS) continue;
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      fs.appendFileSync(file, `${Math.round(performance.timeOrigin + e.startTime)} ${name} ${GC_KINDS[kind] ?? 'gc'} ${e.duration.toFixed(1)}\n`);
    }
  }).observe({ entryTypes: ['gc'] });
}
