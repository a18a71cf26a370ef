// Where a process spent its CPU time, from a .cpuprofile that `npm run bench -- --cpu-prof
// DIR` wrote: self time by function and by package or source folder.
// Run: node dist/sim/bench/profile-summary.js DIR/inner.cpuprofile [top] [--window RESULTS.json]
// With --window, only the samples taken while Ferry's maximum-rate phases ran (the bench's
// JSON says when, in the monotonic clock's microseconds that profiles are timed by): the
// bills the desks create between phases, the start and the warm-ups are left out, as they
// are from the CPU ms per payment.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  functions: Array<{ name: string; where: string; ms: number; pct: number }>;
  areas: Array<{ area: string; ms: number; pct: number }>;
}

// node_modules/<pkg>, node:internal, or the project folder two levels deep.
function areaOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const own = /dist\/((?:runtime|devices|sim)\/[^/]+(?:\/[^/]+)?)/.exec(url);
  return own ? own[1]!.replace(/\.js$/, '') : url;
}

export type Window = readonly [number, number];

export function summarise(profile: Profile, top = 25, windows?: readonly Window[]): ProfileSummary {
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windows && !windows.some(([from, to]) => at >= from && at <= to)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const byFn = new Map<string, { name: string; where: string; us: number }>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    totalUs += us;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = `${url.replace(/^.*\/(node_modules|dist)\//, '')}:${lineNumber + 1}`;
    const key = `${functionName}@${where}`;
    const f = byFn.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    f.us += us;
    byFn.set(key, f);
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const busy = totalUs - idleUs;
  const pct = (us: number) => Math.round((us / busy) * 1000) / 10;
  return {
    totalMs: Math.round(totalUs / 1000), idleMs: Math.round(idleUs / 1000),
    functions: [...byFn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({ name: f.name, where: f.where, ms: Math.round(f.us / 1000), pct: pct(f.us) })),
    areas: [...byArea.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([area, us]) => ({ area, ms: Math.round(us / 1000), pct: pct(us) })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`${s.totalMs} ms sampled, ${s.idleMs} ms idle; self time of the busy part:`, 'by area:'];
  for (const a of s.areas) lines.push(`  ${a.pct.toFixed(1).padStart(5)} %  ${String(a.ms).padStart(6)} ms  ${a.area}`);
  lines.push('by function:');
  for (const f of s.functions) lines.push(`  ${f.pct.toFixed(1).padStart(5)} %  ${String(f.ms).padStart(6)} ms  ${f.name}  ${f.where}`);
  return lines.join('\n');
}

// The maximum-rate windows of Ferry in a bench result (bench-results/*.json).
export function ferryMaxWindows(results: { rounds?: Record<string, Array<{ ferry?: { maxWindowUs?: Window } }>> }): Window[] {
  const windows = Object.values(results.rounds ?? {}).flat().map((r) => r.ferry?.maxWindowUs).filter((w): w is Window => Array.isArray(w));
  if (windows.length === 0) throw new Error('the results hold no maximum-rate window (written by a bench before 2026-12-02?)');
  return windows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { window: { type: 'string' } } });
  const [file, top] = positionals;
  if (!file) {
    console.error('usage: node dist/sim/bench/profile-summary.js FILE.cpuprofile [top] [--window RESULTS.json]');
    process.exit(2);
  }
  const windows = values.window ? ferryMaxWindows(JSON.parse(fs.readFileSync(values.window, 'utf8'))) : undefined;
  const summary = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, Number(top) || 25, windows);
  if (windows) console.log(`in Ferry's ${windows.length} maximum-rate phase(s), ${Math.round(windows.reduce((ms, [a, b]) => ms + (b - a) / 1000, 0))} ms:`);
  console.log(formatSummary(summary));
}
