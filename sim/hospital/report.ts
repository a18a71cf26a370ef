// The summary printed at the end of a simulated day.
import type { HospitalReport } from './run.js';

export function formatReport(r: HospitalReport): string {
  const lines: string[] = [];
  lines.push(`Ferry hospital day "${r.scenario}" finished in ${r.seconds.toFixed(1)} s`);
  lines.push('');
  const head = ['flow', 'count', 'ok', 'refused', 'failed', 'p50 ms', 'p95 ms', 'p99 ms'];
  const rows = r.flows.map((f) => [f.flow, f.count, f.ok, f.refused, f.failed, f.p50, f.p95, f.p99].map(String));
  lines.push(...table([head, ...rows]));
  const reasons = r.flows.filter((f) => Object.keys(f.reasons).length > 0)
    .map((f) => `  ${f.flow}: ${Object.entries(f.reasons).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  if (reasons.length) lines.push('', 'not ok, by reason:', ...reasons);
  lines.push('');
  lines.push(...table([['invariant', 'checked', 'result'], ...r.invariants.map((i) => [i.invariant, String(i.checked), i.ok ? 'PASS' : 'FAIL'])]));
  for (const i of r.invariants.filter((x) => !x.ok)) lines.push(`  FAIL ${i.invariant}:`, ...i.problems.map((p) => `    - ${p}`));
  lines.push('', r.ok ? 'all invariants hold' : 'AN INVARIANT FAILED');
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}
