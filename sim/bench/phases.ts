// The bench's measurements. The same device client code sends the same payment.request
// envelopes in (a) and (b); only what answers differs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeviceClient } from '../../devices/client.js';
import { loadGatewayConfig } from '../../runtime/rules/load.js';
import { PaymentServerSim } from '../payment-server/server.js';
import { closeFleet, connectFleet, reconnectStorm, type StormReport } from '../load/fleet.js';
import { runLoad, type RunReport } from '../load/run.js';
import { prepareBills, runTag, Workload, type PreparedBill } from '../load/workload.js';
import type { LoadRules } from '../load/rules.js';
import { startEchoProcess, startGatewayProcesses, type Child } from '../load/processes.js';
import { cpuTimeMs } from '../load/machine.js';
import type { BenchConfig } from './config.js';

const PAY_ONLY = { pay: 1, query: 0, register: 0 };

export interface RatePhases {
  max: RunReport; // closed loop, `concurrency` in flight
  half: RunReport; // open loop at half of max's achieved rate
  // CPU time per request at the maximum rate, by process ('bench' is the clients, and
  // the payment simulator for Ferry): what a request costs, whatever else the machine ran.
  cpuMsPerRequest: Record<string, number | null>;
}

export interface Memory {
  peakRssMiB: number;
  rssMiB: number;
}

export interface BaselineResult extends RatePhases {
  peakRssMiB: { echo: number | null };
}

export interface FerryResult extends RatePhases {
  peakRssMiB: { inner: number | null; outer: number | null };
  charges: number; // at the payment simulator: one per payment (invariant 2)
}

export interface IdleResult {
  devices: number;
  connectMs: number;
  innerRssMiB: number | null; // with every device connected
  innerPeakRssMiB: number | null;
  benchClientRssMiB: number;
  storm?: StormReport;
}

// (a) + (b) at the maximum rate and at half of it, over the clients given.
async function ratePhases(clients: readonly DeviceClient[], cfg: BenchConfig, bills: readonly PreparedBill[], say: (s: string) => void, label: string, children: readonly Child[]): Promise<RatePhases> {
  const tag = runTag();
  let used = 0;
  const slice = (n: number) => bills.slice(used, (used += n));
  if (cfg.warmup > 0) {
    const warm = await runLoad({ clients, workload: new Workload(slice(cfg.warmup), undefined, tag), mix: PAY_ONLY, requests: cfg.warmup, mode: 'closed', concurrency: cfg.concurrency });
    checkAllAnswered(warm, `${label} warm-up`);
  }
  const cpuBefore = cpuTimes(children);
  const max = await runLoad({ clients, workload: new Workload(slice(cfg.payments), undefined, tag), mix: PAY_ONLY, requests: cfg.payments, mode: 'closed', concurrency: cfg.concurrency });
  const cpuAfter = cpuTimes(children);
  checkAllAnswered(max, `${label} at the maximum rate`);
  const cpuMsPerRequest = Object.fromEntries(Object.entries(cpuAfter).map(([name, ms]) => {
    const before = cpuBefore[name];
    return [name, ms === undefined || before === undefined ? null : Math.round(((ms - before) / max.requests) * 1000) / 1000];
  }));
  say(`${label}: ${max.achievedPerSecond.toFixed(0)}/s with ${cfg.concurrency} in flight; now open loop at half`);
  const half = await runLoad({ clients, workload: new Workload(slice(cfg.payments), undefined, tag), mix: PAY_ONLY, requests: cfg.payments, mode: 'open', rate: Math.max(1, Math.round(max.achievedPerSecond / 2)) });
  checkAllAnswered(half, `${label} at half the maximum rate`);
  return { max, half, cpuMsPerRequest };
}

function cpuTimes(children: readonly Child[]): Record<string, number | undefined> {
  const times: Record<string, number | undefined> = {};
  for (const child of children) times[child.name] = cpuTimeMs(child.pid);
  const own = process.cpuUsage();
  times.bench = (own.user + own.system) / 1000;
  return times;
}

export function billsFor(cfg: BenchConfig): number {
  return cfg.warmup + 2 * cfg.payments;
}

export async function baselinePhase(cfg: BenchConfig, rules: LoadRules, say: (s: string) => void): Promise<BaselineResult> {
  const { child, mqttUrl } = await startEchoProcess(cfg.cpuProfDir ? { cpuProfDir: cfg.cpuProfDir } : {});
  try {
    const fleet = await connectFleet(mqttUrl, rules.kiosks.slice(0, cfg.concurrency));
    try {
      // The echo broker checks nothing: bills it never saw are as good as any.
      const bills = Array.from({ length: billsFor(cfg) }, (_, i) => ({ billId: `B20261126-bench-${i.toString(36)}`, patientId: 'P-1', total: 3500 }));
      const phases = await ratePhases(fleet.clients, cfg, bills, say, 'baseline', [child]);
      return { ...phases, peakRssMiB: { echo: child.memory()?.peakRssMiB ?? null } };
    } finally {
      await closeFleet(fleet.clients);
    }
  } finally {
    await child.stop();
  }
}

// (b) then (c), on one gateway: Ferry's inner and outer processes, the payment simulator
// in this process (it stands for another organisation's server).
export async function ferryPhases(cfg: BenchConfig, rules: LoadRules, say: (s: string) => void): Promise<{ ferry: FerryResult; idle?: IdleResult }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-data-'));
  const sim = new PaymentServerSim();
  const secret = loadGatewayConfig(rules.rulesDir).payment.secret;
  const { url: paymentUrl } = await sim.start({ host: '127.0.0.1', port: 0, secret });
  let gateway: Awaited<ReturnType<typeof startGatewayProcesses>> | undefined;
  try {
    gateway = await startGatewayProcesses({ rulesDir: rules.rulesDir, dataDir, paymentUrl, ...(cfg.cpuProfDir ? { cpuProfDir: cfg.cpuProfDir } : {}) });
    sim.setNotifyUrl(gateway.notifyUrl);
    const desk = await DeviceClient.connect({ url: gateway.mqttUrl, id: rules.desk.id, password: rules.desk.password });
    let bills: PreparedBill[];
    try {
      say(`ferry: creating ${billsFor(cfg)} bills`);
      bills = await prepareBills(desk, billsFor(cfg), runTag(), 60_000);
    } finally {
      await desk.close();
    }
    const fleet = await connectFleet(gateway.mqttUrl, rules.kiosks.slice(0, cfg.concurrency));
    let phases: RatePhases;
    try {
      phases = await ratePhases(fleet.clients, cfg, bills, say, 'ferry', [gateway.inner, gateway.outer]);
    } finally {
      await closeFleet(fleet.clients);
    }
    const ferry: FerryResult = {
      ...phases,
      peakRssMiB: { inner: gateway.inner.memory()?.peakRssMiB ?? null, outer: gateway.outer.memory()?.peakRssMiB ?? null },
      charges: sim.totalCharges(),
    };
    const idle = cfg.idle > 0 ? await idlePhase(cfg, rules, gateway, say) : undefined;
    return { ferry, ...(idle ? { idle } : {}) };
  } finally {
    await gateway?.stop();
    await sim.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function idlePhase(cfg: BenchConfig, rules: LoadRules, gateway: Awaited<ReturnType<typeof startGatewayProcesses>>, say: (s: string) => void): Promise<IdleResult> {
  say(`idle: connecting ${cfg.idle} devices`);
  const fleet = await connectFleet(gateway.mqttUrl, [rules.desk, ...rules.kiosks].slice(0, cfg.idle));
  try {
    const mem = gateway.inner.memory();
    const result: IdleResult = {
      devices: fleet.clients.length, connectMs: Math.round(fleet.connectMs),
      innerRssMiB: mem?.rssMiB ?? null, innerPeakRssMiB: mem?.peakRssMiB ?? null,
      benchClientRssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
    };
    if (cfg.storm > 0) {
      say(`idle: ${fleet.clients.length} connected in ${(fleet.connectMs / 1000).toFixed(2)} s; dropping ${cfg.storm} at once`);
      result.storm = await reconnectStorm(fleet.clients, cfg.storm);
    }
    return result;
  } finally {
    await closeFleet(fleet.clients);
  }
}

function checkAllAnswered(r: RunReport, what: string): void {
  if (r.answered === r.requests) return;
  throw new Error(`${what}: ${r.answered} of ${r.requests} answered; errors ${JSON.stringify(r.errors)}, shed ${r.shed}`);
}
