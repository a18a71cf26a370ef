// The slow requests of open-loop runs set beside what each process was doing at the time.
// Inputs: the latency log of the lean generator (FERRY_BENCH_LATENCY_LOG) and the stall log
// of the processes run with stall-probe.ts (FERRY_BENCH_STALL_LOG). Slow requests close in
// time make one episode; an event in the 100 ms before an episode or during it is printed
// with it, and the summary counts the episodes each kind of event was seen in.
// Run: node dist/sim/bench/tail-report.js LATENCY_LOG STALL_LOG [slow ms, 20] [run index: every run]
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

const EPISODE_GAP_MS = 100; // slow requests further apart than this are two episodes
const LOOKBACK_MS = 100;

export interface Episode { startMs: number; endMs: number; slow: number; worstMs: number; events: string[] }

export function episodes(samples: ReadonlyArray<readonly [number, number]>, events: ReadonlyArray<readonly [number, string]>, slowMs: number): Episode[] {
  const slow = samples.filter(([, ms]) => ms > slowMs).sort((a, b) => a[0] - b[0]);
  const out: Episode[] = [];
  for (const [at, ms] of slow) {
    const last = out[out.length - 1];
    if (last && at - last.endMs <= EPISODE_GAP_MS) {
      last.endMs = at;
      last.slow += 1;
      last.worstMs = Math.max(last.worstMs, ms);
    } else {
      out.push({ startMs: at, endMs: at, slow: 1, worstMs: ms, events: [] });
    }
  }
  for (const e of out) {
    e.events = events.filter(([t]) => t >= e.startMs - LOOKBACK_MS && t <= e.endMs + e.worstMs).map(([t, what]) => `${t - e.startMs >= 0 ? '+' : ''}${t - e.startMs} ms ${what}`);
  }
  return out;
}

function main(): void {
  const [latencyLog, stallLog, slowText, runText] = process.argv.slice(2);
  if (!latencyLog || !stallLog) {
    console.error('usage: tail-report LATENCY_LOG STALL_LOG [slow ms] [run index]');
    process.exit(2);
  }
  const slowMs = Number(slowText ?? 20);
  const runs = fs.readFileSync(latencyLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Array<[number, number]>);
  const events = fs.existsSync(stallLog)
    ? fs.readFileSync(stallLog, 'utf8').trim().split('\n').filter(Boolean).map((l): [number, string] => {
        const [t, ...rest] = l.split(' ');
        return [Number(t), rest.join(' ')];
      })
    : [];
  const chosen = runText === undefined ? runs.map((r, i) => [i, r] as const) : [[Number(runText), runs[Number(runText)]!] as const];
  for (const [i, samples] of chosen) {
    const eps = episodes(samples, events, slowMs);
    const t0 = samples.reduce((m, [t]) => Math.min(m, t), Infinity);
    const slow = eps.reduce((n, e) => n + e.slow, 0);
    console.log(`run ${i}: ${samples.length} requests, ${slow} over ${slowMs} ms in ${eps.length} episodes`);
    const seen = new Map<string, number>();
    let bare = 0;
    for (const e of eps) {
      console.log(`  at ${((e.startMs - t0) / 1000).toFixed(2)} s: ${e.slow} slow, worst ${e.worstMs} ms${e.events.length ? '' : ' (no stall or GC seen)'}`);
      for (const ev of e.events) console.log(`      ${ev}`);
      if (e.events.length === 0) bare += 1;
      const kinds = new Set(e.events.map((ev) => ev.split(' ').slice(2, 4).join(' ')));
      for (const k of kinds) seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    console.log(`  episodes with: ${[...seen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing'}; with nothing seen: ${bare}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
