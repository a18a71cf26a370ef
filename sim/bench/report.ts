// The bench's results: one JSON document (machine, sizes, every figure) and the lines
// printed at the end of a run.
import fs from 'node:fs';
import path from 'node:path';
import { formatMachine, type Machine } from '../load/machine.js';
import type { RunReport } from '../load/run.js';
import type { BenchConfig } from './config.js';
import type { BaselineResult, FerryResult, IdleResult } from './phases.js';
import type { StoreBenchResult } from './store-bench.js';
import { formatAgedStore, type AgedStoreResult } from './aged-store/bench.js';

export const BENCH_SCHEMA_VERSION = 1;

export interface BenchResults {
  schema: number;
  startedAt: string;
  seconds: number;
  machine: Machine;
  loadAverageAfter: number[];
  sizes: Omit<BenchConfig, 'out' | 'cpuProfDir'>;
  store: StoreBenchResult | null;
  aged: AgedStoreResult | null; // the store after months of a large hospital (aged-store/)
  baseline: BaselineResult;
  ferry: FerryResult;
  ratio: number; // ferry payments/s ÷ baseline requests/s, both at the maximum rate
  idle: IdleResult | null;
}

export function writeResults(file: string, r: BenchResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}

function rate(label: string, r: RunReport): string {
  const how = r.mode === 'closed' ? `${r.concurrency} in flight` : `open loop at ${r.offeredPerSecond}/s`;
  return `${label.padEnd(26)} ${r.achievedPerSecond.toFixed(0).padStart(6)}/s  p50 ${r.latencyMs.p50.toFixed(1).padStart(6)} ms  p99 ${r.latencyMs.p99.toFixed(1).padStart(6)} ms  (${r.requests}, ${how})`;
}

function cpu(by: Record<string, number | null>): string {
  return Object.entries(by).map(([name, ms]) => `${name} ${ms ?? '?'}`).join(', ');
}

export function formatResults(r: BenchResults): string {
  const lines = [`machine: ${formatMachine(r.machine)}`];
  if (r.store) lines.push(`store: ${r.store.transactions} transactions, ${Math.round(r.store.perSecond)} tx/s, ${(r.store.transactions / r.store.batches).toFixed(1)} per fsync`);
  if (r.aged) lines.push(...formatAgedStore(r.aged));
  lines.push(
    rate('(a) baseline, max', r.baseline.max), rate('(a) baseline, half', r.baseline.half),
    rate('(b) ferry payments, max', r.ferry.max), rate('(b) ferry payments, half', r.ferry.half),
    `ratio (b)/(a) at max: ${r.ratio.toFixed(3)}`,
    `CPU ms per request at max: baseline ${cpu(r.baseline.cpuMsPerRequest)}; ferry ${cpu(r.ferry.cpuMsPerRequest)}`,
    `peak RSS: inner ${r.ferry.peakRssMiB.inner} MiB, outer ${r.ferry.peakRssMiB.outer} MiB, echo broker ${r.baseline.peakRssMiB.echo} MiB; ` +
      `${r.ferry.charges} charges at the payment simulator`,
  );
  if (r.idle) {
    lines.push(`(c) ${r.idle.devices} idle devices connected in ${(r.idle.connectMs / 1000).toFixed(2)} s; inner RSS ${r.idle.innerRssMiB} MiB ` +
      `(peak ${r.idle.innerPeakRssMiB} MiB); bench client RSS ${r.idle.benchClientRssMiB} MiB`);
    const s = r.idle.storm;
    if (s) lines.push(`(c) reconnect storm: ${s.reconnected}/${s.dropped} connected again ${(s.allConnectedMs / 1000).toFixed(2)} s after the drop (${s.reconnectDelayMs} ms of it the clients' reconnect delay)`);
  }
  return lines.join('\n');
}
