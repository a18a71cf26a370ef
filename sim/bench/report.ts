// The bench's results: one JSON document (machine, sizes, every round's figures and
// their summary per generator) and the lines printed at the end of a run.
import fs from 'node:fs';
import path from 'node:path';
import { formatMachine, type Machine } from '../load/machine.js';
import type { RunReport } from '../load/run.js';
import type { BenchConfig } from './config.js';
import type { RateResults, Round } from './phases.js';
import type { StoreBenchResult } from './store-bench.js';
import { formatAgedStore, type AgedStoreResult } from './aged-store/bench.js';

// 2: timed phases, rounds, one entry per load generator, CPU per process and the
// gateway's CPU against the echo broker's.
export const BENCH_SCHEMA_VERSION = 2;

// A figure over the rounds: the median, the range, and the spread (range / median).
export interface Spread {
  median: number;
  min: number;
  max: number;
  spread: number;
  values: number[];
}

export interface GeneratorSummary {
  baselinePerSecond: Spread; // plain Aedes round trips per second at the maximum rate
  ferryPerSecond: Spread; // Ferry payments per second at the maximum rate
  rateRatio: Spread; // Ferry / plain Aedes, both with `concurrency` in flight
  // CPU ms per payment (Ferry) or per round trip (baseline) at the maximum rate.
  cpuMsPerRequest: { ferry: Record<string, Spread>; baseline: Record<string, Spread> };
  writesPerRequest: { ferry: Record<string, Spread>; baseline: Record<string, Spread> }; // write system calls
  // (inner + outer) CPU per payment ÷ the echo broker's CPU per round trip.
  gatewayCpuRatio: Spread;
  ferryHalfP99Ms: Spread; // p99 in the open loop at half the maximum rate
}

export interface BenchResults {
  schema: number;
  startedAt: string;
  seconds: number;
  machine: Machine;
  loadAverageAfter: number[];
  sizes: Omit<BenchConfig, 'out' | 'cpuProfDir'>;
  store: StoreBenchResult | null;
  aged: AgedStoreResult | null; // the store after months of a large hospital (aged-store/)
  summary: Record<string, GeneratorSummary>; // by generator
  rounds: RateResults['rounds'];
  memory: RateResults['memory'];
  payments: number;
  charges: number;
  idle: RateResults['idle'];
  pinned: RateResults['pinned'];
}

export function spreadOf(values: number[]): Spread {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const round3 = (n: number) => Math.round(n * 1000) / 1000;
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, spread: NaN, values };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median: round3(median), min: round3(min), max: round3(max), spread: median > 0 ? round3((max - min) / median) : 0, values: values.map(round3) };
}

export function summarise(rounds: readonly Round[]): GeneratorSummary {
  const over = (f: (r: Round) => number | null | undefined) => spreadOf(rounds.map((r) => f(r) ?? NaN));
  const byProcess = (target: 'baseline' | 'ferry', figure: 'cpuMsPerRequest' | 'writesPerRequest') => {
    const names = Object.keys(rounds[0]?.[target][figure] ?? {});
    return Object.fromEntries(names.map((n) => [n, over((r) => r[target][figure][n])]));
  };
  return {
    baselinePerSecond: over((r) => r.baseline.max.achievedPerSecond),
    ferryPerSecond: over((r) => r.ferry.max.achievedPerSecond),
    rateRatio: over((r) => r.ferry.max.achievedPerSecond / r.baseline.max.achievedPerSecond),
    cpuMsPerRequest: { ferry: byProcess('ferry', 'cpuMsPerRequest'), baseline: byProcess('baseline', 'cpuMsPerRequest') },
    writesPerRequest: { ferry: byProcess('ferry', 'writesPerRequest'), baseline: byProcess('baseline', 'writesPerRequest') },
    gatewayCpuRatio: over((r) => {
      const { inner, outer } = r.ferry.cpuMsPerRequest;
      const echo = r.baseline.cpuMsPerRequest.echo;
      return inner == null || outer == null || !echo ? null : (inner + outer) / echo;
    }),
    ferryHalfP99Ms: over((r) => r.ferry.half.latencyMs.p99),
  };
}

export function writeResults(file: string, r: BenchResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}

function rate(label: string, r: RunReport): string {
  const how = r.mode === 'closed' ? `${r.concurrency} in flight` : `open loop at ${r.offeredPerSecond}/s`;
  return `  ${label.padEnd(24)} ${r.achievedPerSecond.toFixed(0).padStart(6)}/s  p50 ${r.latencyMs.p50.toFixed(1).padStart(6)} ms  p99 ${r.latencyMs.p99.toFixed(1).padStart(6)} ms  (${r.answered} in ${r.seconds.toFixed(1)} s, ${how})`;
}

function cpu(by: Record<string, number | null>): string {
  return Object.entries(by).map(([name, ms]) => `${name} ${ms ?? '?'}`).join(', ');
}

function fig(s: Spread, digits: number): string {
  const f = (n: number) => n.toFixed(digits);
  return s.values.length > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)}, spread ${(s.spread * 100).toFixed(0)} %)` : f(s.median);
}

const GENERATOR_NAMES: Record<string, string> = { lean: 'lean MQTT.js loop (sim/load/lean-load.ts)', device: 'device client (devices/client.ts)' };

export function formatResults(r: BenchResults): string {
  const lines = [`machine: ${formatMachine(r.machine)}; load after ${r.loadAverageAfter.join(' ')}`];
  lines.push(r.pinned ? `pinned: brokers (echo, inner) on CPU ${r.pinned.broker}, the rest on CPU ${r.pinned.rest}` : 'not pinned to CPUs');
  if (r.store) lines.push(`store: ${r.store.transactions} transactions, ${Math.round(r.store.perSecond)} tx/s, ${(r.store.transactions / r.store.batches).toFixed(1)} per fsync`);
  if (r.aged) lines.push(...formatAgedStore(r.aged));
  for (const [generator, rounds] of Object.entries(r.rounds)) {
    lines.push(`generator: ${GENERATOR_NAMES[generator] ?? generator}`);
    rounds.forEach((round, i) => {
      lines.push(
        ` round ${i + 1}:`,
        rate('(a) baseline, max', round.baseline.max), rate('(a) baseline, half', round.baseline.half),
        rate('(b) ferry payments, max', round.ferry.max), rate('(b) ferry payments, half', round.ferry.half),
        `  CPU ms per request at max: baseline ${cpu(round.baseline.cpuMsPerRequest)}; ferry ${cpu(round.ferry.cpuMsPerRequest)}`,
        `  write system calls per request at max: baseline ${cpu(round.baseline.writesPerRequest)}; ferry ${cpu(round.ferry.writesPerRequest)}`,
      );
    });
  }
  lines.push('summary over the rounds (median, range, spread):');
  for (const [generator, s] of Object.entries(r.summary)) {
    const ferryCpu = Object.entries(s.cpuMsPerRequest.ferry).map(([n, v]) => `${n} ${fig(v, 3)}`).join(', ');
    lines.push(
      ` ${generator}: rate ratio Ferry / plain Aedes at ${r.sizes.concurrency} in flight: ${fig(s.rateRatio, 3)}  (${fig(s.ferryPerSecond, 0)} payments/s against ${fig(s.baselinePerSecond, 0)} round trips/s)`,
      ` ${generator}: CPU ms per payment: ${ferryCpu}`,
      ` ${generator}: CPU ms per echo round trip: ${Object.entries(s.cpuMsPerRequest.baseline).map(([n, v]) => `${n} ${fig(v, 3)}`).join(', ')}`,
      ` ${generator}: write system calls per payment: ${Object.entries(s.writesPerRequest.ferry).map(([n, v]) => `${n} ${fig(v, 2)}`).join(', ')}; per echo round trip: ${Object.entries(s.writesPerRequest.baseline).map(([n, v]) => `${n} ${fig(v, 2)}`).join(', ')}`,
      ` ${generator}: gateway CPU (inner + outer) per payment / echo broker CPU per round trip: ${fig(s.gatewayCpuRatio, 2)} x`,
      ` ${generator}: Ferry p99 at half the maximum rate: ${fig(s.ferryHalfP99Ms, 1)} ms`,
    );
  }
  const m = r.memory;
  lines.push(`RSS after the payment phases (peak / now, MiB): inner ${m.inner.peakRssMiB} / ${m.inner.rssMiB}, outer ${m.outer.peakRssMiB} / ${m.outer.rssMiB}, ` +
    `echo broker ${m.echo.peakRssMiB} / ${m.echo.rssMiB}, simulator ${m.simulator.peakRssMiB} / ${m.simulator.rssMiB}`);
  lines.push(`${r.charges} charges at the payment simulator for ${r.payments} payments answered${r.charges === r.payments ? '' : ' (MISMATCH)'}`);
  if (r.idle) {
    lines.push(`(c) ${r.idle.devices} idle devices connected in ${(r.idle.connectMs / 1000).toFixed(2)} s; inner RSS ${r.idle.innerRssMiB} MiB ` +
      `(peak ${r.idle.innerPeakRssMiB} MiB); bench client RSS ${r.idle.benchClientRssMiB} MiB`);
    const s = r.idle.storm;
    if (s) lines.push(`(c) reconnect storm: ${s.reconnected}/${s.dropped} connected again ${(s.allConnectedMs / 1000).toFixed(2)} s after the drop (${s.reconnectDelayMs} ms of it the clients' reconnect delay)`);
  }
  return lines.join('\n');
}
