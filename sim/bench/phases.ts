// The bench's rate measurements. The same payment.request envelopes go (a) through a
// plain Aedes broker with an echo responder and (b) through Ferry; only what answers
// differs. Each load generator (config.ts GENERATORS) drives both, in rounds that
// alternate baseline and Ferry, so that a machine whose load changes during the run
// moves both alike and the spread between rounds shows how far to trust a figure.
// Every phase runs for a fixed time; CPU time is read from /proc around each one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeviceClient } from '../../devices/client.js';
import { loadGatewayConfig } from '../../runtime/rules/load.js';
import { closeFleet, connectFleet, reconnectStorm, type StormReport } from '../load/fleet.js';
import { LeanFleet } from '../load/lean-load.js';
import { runLoad, type RunReport } from '../load/run.js';
import { prepareBills, runTag, Workload, type PreparedBill } from '../load/workload.js';
import type { LoadRules } from '../load/rules.js';
import { startEchoProcess, startGatewayProcesses, startPaymentSimProcess, type Child } from '../load/processes.js';
import { cpuTimeMs, memoryOf, syscallsOf } from '../load/machine.js';
import { cpuPlan, pin, type CpuPlan } from '../load/pin.js';
import type { BenchConfig, Generator } from './config.js';

// The key of the inner side's main-thread writes among the write system calls.
export const INNER_MAIN_THREAD = 'inner main thread';
const PAY_ONLY = { pay: 1, query: 0, register: 0 };
// Bills made for a timed phase: its expected count times this, so that a phase that
// runs faster than the last one still has a bill for every payment.
const BILL_MARGIN = 2;
const BILLS_EXTRA = 200;
// What a target is assumed to reach before it has been measured (the first warm-up).
const FIRST_GUESS_PER_SECOND = { baseline: 20_000, ferry: 2_000 } as const;
const BILL_TIMEOUT_MS = 120_000;
// The first warm-up of each generator on each target is this many times longer: until
// V8 has optimised the hot paths of a process, a payment costs it about twice the CPU,
// and a short warm-up left the first round's figures apart from the others'.
const FIRST_WARMUP_FACTOR = 3;

export type Target = 'baseline' | 'ferry';

export interface Memory {
  peakRssMiB: number | null; // VmHWM
  rssMiB: number | null; // VmRSS when read
}

export interface RatePhases {
  max: RunReport; // closed loop, `concurrency` in flight
  half: RunReport; // open loop at half of max's achieved rate
  // CPU ms per answered request at the maximum rate, by process: echo (baseline), inner,
  // outer, simulator (Ferry), and clients (this process: the load generator alone).
  cpuMsPerRequest: Record<string, number | null>;
  // Write system calls (write, writev, sendmsg on sockets) per answered request at the
  // maximum rate, by process: fewer when socket writes are batched; for the inner side
  // also its main thread alone (INNER_MAIN_THREAD), which makes the socket writes.
  writesPerRequest: Record<string, number | null>;
  // When the maximum-rate phase ran, in microseconds of the monotonic clock that V8's CPU
  // profiles are timed by: profile-summary.ts --window keeps the samples taken in it.
  maxWindowUs: [number, number];
}

export interface Round {
  baseline: RatePhases;
  ferry: RatePhases;
}

export interface IdleResult {
  devices: number;
  connectMs: number;
  innerRssMiB: number | null; // with every device connected
  innerPeakRssMiB: number | null;
  benchClientRssMiB: number;
  storm?: StormReport;
}

export interface RateResults {
  rounds: Record<string, Round[]>; // by generator, in the order run
  // After every payment phase, before the idle part.
  memory: { inner: Memory; outer: Memory; echo: Memory; simulator: Memory };
  payments: number; // answered by Ferry, warm-ups included
  charges: number; // at the payment simulator: one per payment (invariant 2)
  idle: IdleResult | null;
  pinned: CpuPlan | null; // the cores of the brokers (echo, inner) and of the rest; null: not pinned
}

// One generator connected to one broker.
interface Driver {
  run(o: { bills: readonly PreparedBill[]; durationMs: number; mode: 'closed' | 'open'; rate?: number; concurrency: number }): Promise<RunReport>;
  close(): Promise<void>;
}

async function connectDriver(generator: Generator, url: string, rules: LoadRules, cfg: BenchConfig): Promise<Driver> {
  const creds = rules.kiosks.slice(0, cfg.concurrency);
  const tag = runTag();
  if (generator === 'lean') {
    const fleet = await LeanFleet.connect(url, creds);
    return { run: (o) => fleet.run({ ...o, tag: runTag() }), close: () => fleet.close() };
  }
  const fleet = await connectFleet(url, creds);
  return {
    run: (o) => runLoad({
      clients: fleet.clients, workload: new Workload(o.bills, undefined, tag), mix: PAY_ONLY, requests: o.bills.length,
      mode: o.mode, concurrency: o.concurrency, durationMs: o.durationMs, ...(o.rate ? { rate: o.rate } : {}),
    }),
    close: () => closeFleet(fleet.clients),
  };
}

// Bills for a target: the echo broker takes any, Ferry only those its billing desks made.
type BillSource = (count: number) => Promise<PreparedBill[]>;

function fakeBills(): BillSource {
  let n = 0;
  return async (count) => Array.from({ length: count }, () => ({ billId: `B20261126-bench-${(n++).toString(36)}`, patientId: 'P-1', total: 3500 }));
}

// Newest first, the desks taken in turn: a phase pays about half the bills made for it
// (BILL_MARGIN), and in a hospital a bill is paid minutes after a desk made it, so the
// bill a payment claims is one the inner side wrote last and holds in memory. Paid oldest
// first, every claim read LevelDB for a bill the later, never paid ones had pushed out of
// the store's recent values (14 % of the inner side's CPU in the phase; BENCHMARKS.md).
function ferryBills(desks: readonly DeviceClient[]): BillSource {
  return async (count) => {
    const per = Math.ceil(count / desks.length);
    const parts = await Promise.all(desks.map((desk) => prepareBills(desk, per, runTag(), BILL_TIMEOUT_MS)));
    const bills: typeof parts[number] = [];
    for (let i = per - 1; i >= 0; i--) for (const part of parts) if (part[i] !== undefined) bills.push(part[i]!);
    return bills;
  };
}

interface TargetUnderTest {
  name: Target;
  url: string;
  children: Child[];
  bills: BillSource;
  lastPerSecond: number;
}

export async function ratePhases(cfg: BenchConfig, rules: LoadRules, say: (s: string) => void): Promise<RateResults> {
  const prof = cfg.cpuProfDir ? { cpuProfDir: cfg.cpuProfDir } : {};
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-data-'));
  const secret = loadGatewayConfig(rules.rulesDir).payment.secret;
  const stops: Array<() => Promise<void>> = [];
  try {
    const echo = await startEchoProcess(prof);
    stops.push(() => echo.child.stop());
    const sim = await startPaymentSimProcess(secret, prof);
    stops.push(() => sim.child.stop());
    const gateway = await startGatewayProcesses({ rulesDir: rules.rulesDir, dataDir, paymentUrl: sim.url, ...prof });
    stops.push(() => gateway.stop());
    const plan = cfg.pin ? cpuPlan() ?? null : null;
    if (plan) {
      for (const child of [echo.child, gateway.inner]) pin(child.pid, plan.broker);
      for (const pid of [gateway.outer.pid, sim.child.pid, process.pid]) pin(pid, plan.rest);
      say(`pinned: echo broker and inner side on CPU ${plan.broker}; outer side, simulator and clients on CPU ${plan.rest}`);
    }
    const desks = await Promise.all(rules.desks.map((d) => DeviceClient.connect({ url: gateway.mqttUrl, id: d.id, password: d.password })));
    stops.push(() => closeFleet(desks));

    const targets: TargetUnderTest[] = [
      { name: 'baseline', url: echo.mqttUrl, children: [echo.child], bills: fakeBills(), lastPerSecond: FIRST_GUESS_PER_SECOND.baseline },
      { name: 'ferry', url: gateway.mqttUrl, children: [gateway.inner, gateway.outer, sim.child], bills: ferryBills(desks), lastPerSecond: FIRST_GUESS_PER_SECOND.ferry },
    ];
    const rounds: Record<string, Round[]> = {};
    let payments = 0;
    for (const generator of cfg.generators) {
      rounds[generator] = [];
      const drivers = new Map<Target, Driver>();
      try {
        for (const t of targets) drivers.set(t.name, await connectDriver(generator, t.url, rules, cfg));
        for (let r = 1; r <= cfg.rounds; r += 1) {
          const round: Partial<Round> = {};
          for (const t of targets) {
            const label = `${generator} generator, round ${r}/${cfg.rounds}, ${t.name}`;
            const { phases, answered } = await measureTarget(t, drivers.get(t.name)!, cfg, r === 1, label, say);
            round[t.name] = phases;
            if (t.name === 'ferry') payments += answered;
          }
          rounds[generator]!.push(round as Round);
        }
      } finally {
        for (const d of drivers.values()) await d.close();
      }
    }
    const memory = {
      inner: memoryOfChild(gateway.inner), outer: memoryOfChild(gateway.outer),
      echo: memoryOfChild(echo.child), simulator: memoryOfChild(sim.child),
    };
    const charges = await sim.totalCharges();
    const idle = cfg.idle > 0 ? await idlePhase(cfg, rules, desks.length, gateway.mqttUrl, gateway.inner, say) : null;
    return { rounds, memory, payments, charges, idle, pinned: plan };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// A warm-up, the maximum rate (CPU read around it), then half of it in an open loop.
async function measureTarget(t: TargetUnderTest, driver: Driver, cfg: BenchConfig, first: boolean, label: string, say: (s: string) => void): Promise<{ phases: RatePhases; answered: number }> {
  const billsFor = (perSecond: number, seconds: number) => Math.ceil(perSecond * seconds * BILL_MARGIN) + BILLS_EXTRA;
  let answered = 0;
  const warmupSeconds = cfg.warmupSeconds * (first ? FIRST_WARMUP_FACTOR : 1);
  if (warmupSeconds > 0) {
    const warm = await driver.run({ bills: await t.bills(billsFor(t.lastPerSecond, warmupSeconds)), durationMs: warmupSeconds * 1000, mode: 'closed', concurrency: cfg.concurrency });
    checkAllAnswered(warm, `${label} warm-up`);
    answered += warm.answered;
    t.lastPerSecond = Math.max(t.lastPerSecond, warm.achievedPerSecond);
  }
  const bills = await t.bills(billsFor(t.lastPerSecond, cfg.seconds));
  const before = cpuTimes(t.children);
  const writesBefore = writeCalls(t.children);
  const fromUs = monotonicUs();
  const max = await driver.run({ bills, durationMs: cfg.seconds * 1000, mode: 'closed', concurrency: cfg.concurrency });
  const maxWindowUs: [number, number] = [fromUs, monotonicUs()];
  const after = cpuTimes(t.children);
  const writesAfter = writeCalls(t.children);
  checkAllAnswered(max, `${label} at the maximum rate`);
  answered += max.answered;
  t.lastPerSecond = max.achievedPerSecond;
  const cpuMsPerRequest = Object.fromEntries(Object.entries(after).map(([name, ms]) => {
    const was = before[name];
    return [name, ms === undefined || was === undefined || max.answered === 0 ? null : Math.round(((ms - was) / max.answered) * 1000) / 1000];
  }));
  const writesPerRequest = Object.fromEntries(Object.entries(writesAfter).map(([name, n]) => {
    const was = writesBefore[name];
    return [name, n === undefined || was === undefined || max.answered === 0 ? null : Math.round(((n - was) / max.answered) * 100) / 100];
  }));
  const rate = Math.max(1, Math.round(max.achievedPerSecond / 2));
  say(`${label}: ${max.achievedPerSecond.toFixed(0)}/s with ${cfg.concurrency} in flight${max.endedEarly ? ` (ended early: ${max.endedEarly})` : ''}; now open loop at ${rate}/s`);
  const half = await driver.run({ bills: await t.bills(billsFor(rate, cfg.seconds)), durationMs: cfg.seconds * 1000, mode: 'open', rate, concurrency: cfg.concurrency });
  checkAllAnswered(half, `${label} at half the maximum rate`);
  answered += half.answered;
  return { phases: { max, half, cpuMsPerRequest, writesPerRequest, maxWindowUs }, answered };
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

function cpuTimes(children: readonly Child[]): Record<string, number | undefined> {
  const times: Record<string, number | undefined> = {};
  for (const child of children) times[child.name] = cpuTimeMs(child.pid);
  const own = process.cpuUsage();
  times.clients = (own.user + own.system) / 1000;
  return times;
}

function writeCalls(children: readonly Child[]): Record<string, number | undefined> {
  const calls: Record<string, number | undefined> = {};
  for (const child of children) {
    calls[child.name] = syscallsOf(child.pid)?.writes;
    // The inner side's main thread alone: its socket writes, apart from the store's.
    if (child.name === 'inner') calls[INNER_MAIN_THREAD] = syscallsOf(child.pid, child.pid)?.writes;
  }
  calls.clients = syscallsOf('self')?.writes;
  return calls;
}

function memoryOfChild(child: Child): Memory {
  const m = memoryOf(child.pid);
  return { peakRssMiB: m?.peakRssMiB ?? null, rssMiB: m?.rssMiB ?? null };
}

// `connected`: the billing desks, connected all along, count among the idle devices.
async function idlePhase(cfg: BenchConfig, rules: LoadRules, connected: number, mqttUrl: string, inner: Child, say: (s: string) => void): Promise<IdleResult> {
  say(`idle: connecting ${cfg.idle} devices (${connected} billing desks among them, connected already)`);
  const fleet = await connectFleet(mqttUrl, rules.kiosks.slice(0, Math.max(0, cfg.idle - connected)));
  try {
    const mem = inner.memory();
    const result: IdleResult = {
      devices: fleet.clients.length + connected, connectMs: Math.round(fleet.connectMs),
      innerRssMiB: mem?.rssMiB ?? null, innerPeakRssMiB: mem?.peakRssMiB ?? null,
      benchClientRssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
    if (cfg.storm > 0) {
      say(`idle: ${fleet.clients.length} connected in ${(fleet.connectMs / 1000).toFixed(2)} s; dropping ${cfg.storm} at once`);
      result.storm = await reconnectStorm(fleet.clients, Math.min(cfg.storm, fleet.clients.length));
    }
    return result;
  } finally {
    await closeFleet(fleet.clients);
  }
}

function checkAllAnswered(r: RunReport, what: string): void {
  if (r.answered === r.requests && Object.keys(r.errors).length === 0) return;
  throw new Error(`${what}: ${r.answered} of ${r.requests} answered; errors ${JSON.stringify(r.errors)}, shed ${r.shed}`);
}
