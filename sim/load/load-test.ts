// One load test against a running gateway, start to end: connect the devices, have the
// billing desk create the bills the payments will pay, run the mix, optionally storm,
// and close every connection whatever happens.
import { DeviceClient } from '../../devices/client.js';
import type { Credential } from './devices-file.js';
import { closeFleet, connectFleet, reconnectStorm, type StormReport } from './fleet.js';
import { LOAD_REQUEST_TIMEOUT_MS, runLoad, formatRun, type RunReport } from './run.js';
import { billsNeeded, planOps, prepareBills, runTag, Workload, type Mix, type Registering } from './workload.js';

export interface LoadTestOptions {
  url: string | readonly string[]; // several: an active/standby pair (docs/ha.md)
  kiosks: readonly Credential[];
  desk?: Credential; // a billing desk; needed when the mix pays or queries bills
  mix: Mix;
  requests: number;
  mode: 'closed' | 'open';
  rate?: number;
  concurrency?: number;
  registering?: Registering; // needed when the mix registers
  storm?: number; // after the run, drop this many connections at once
  requestTimeoutMs?: number;
  progress?: (line: string) => void;
}

export interface LoadTestReport {
  connect: { devices: number; ms: number };
  bills: { count: number; ms: number };
  run: RunReport;
  storm?: StormReport;
}

export async function loadTest(o: LoadTestOptions): Promise<LoadTestReport> {
  const say = o.progress ?? (() => {});
  const tag = runTag();
  const needed = billsNeeded(planOps(o.mix, o.requests));
  if (needed > 0 && !o.desk) throw new Error('the mix pays or queries bills: a billing desk is needed to create them');
  if (o.mix.register > 0 && !o.registering?.depts.length) throw new Error('the mix registers: departments are needed');
  say(`connecting ${o.kiosks.length} devices`);
  const fleet = await connectFleet(o.url, o.kiosks);
  let desk: DeviceClient | undefined;
  try {
    const t0 = performance.now();
    let bills: Awaited<ReturnType<typeof prepareBills>> = [];
    if (needed > 0) {
      say(`connected in ${(fleet.connectMs / 1000).toFixed(2)} s; creating ${needed} bills`);
      desk = await DeviceClient.connect({ url: o.url, id: o.desk!.id, password: o.desk!.password });
      bills = await prepareBills(desk, needed, tag, o.requestTimeoutMs ?? LOAD_REQUEST_TIMEOUT_MS);
    }
    const billsMs = performance.now() - t0;
    say(`running ${o.requests} requests`);
    const run = await runLoad({
      clients: fleet.clients, workload: new Workload(bills, o.registering, tag), mix: o.mix, requests: o.requests, mode: o.mode,
      ...(o.rate ? { rate: o.rate } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}),
      ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    });
    const storm = o.storm ? await reconnectStorm(fleet.clients, Math.min(o.storm, fleet.clients.length)) : undefined;
    return {
      connect: { devices: fleet.clients.length, ms: Math.round(fleet.connectMs) },
      bills: { count: bills.length, ms: Math.round(billsMs) },
      run, ...(storm ? { storm } : {}),
    };
  } finally {
    await desk?.close();
    await closeFleet(fleet.clients);
  }
}

export function formatLoadTest(r: LoadTestReport): string {
  const lines = [
    `connected ${r.connect.devices} devices in ${(r.connect.ms / 1000).toFixed(2)} s; ${r.bills.count} bills created beforehand`,
    formatRun(r.run),
  ];
  if (r.storm) {
    lines.push(`reconnect storm: ${r.storm.reconnected}/${r.storm.dropped} devices connected again ${(r.storm.allConnectedMs / 1000).toFixed(2)} s after the drop ` +
      `(each waits ${r.storm.reconnectDelayMs} ms before reconnecting)`);
  }
  return lines.join('\n');
}
