// Where a process spent its CPU time, from a .cpuprofile that `npm run bench -- --cpu-prof
// DIR` wrote: self time by function and by package or source folder.
// Run: node dist/sim/bench/profile-summary.js DIR/inner.cpuprofile [top]
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

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

export function summarise(profile: Profile, top = 25): ProfileSummary {
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/sim/bench/profile-summary.js FILE.cpuprofile [top]');
    process.exit(2);
  }
  console.log(formatSummary(summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile, Number(top) || 25)));
}
