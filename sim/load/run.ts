// The load generator: a fleet of device connections sends a mix of requests, either
// closed-loop (each sending device waits for its answer before the next request) or
// open-loop (requests arrive at a fixed rate whether or not earlier ones were answered),
// and reports the achieved rate and latency percentiles. Answers are checked: a
// refusal, a failed payment or a timeout is counted as an error by its code.
import { assert } from '../../runtime/common/errors.js';
import { DeviceClientError, type DeviceClient } from '../../devices/client.js';
import { LatencyHistogram, type Percentiles } from './histogram.js';
import { OPS, planOps, type Mix, type Op, type Workload } from './workload.js';

// Open loop: requests sent and not yet answered. Beyond this the gateway is not keeping
// up and more would only grow memory; arrivals are then counted as `shed`.
export const OPEN_LOOP_OUTSTANDING_MAX = 10_000;
// Per device (the device client's own cap is 1,000 waiters).
const OUTSTANDING_PER_DEVICE_MAX = 900;
// Requests are given this long, resends included (the device client's default).
export const LOAD_REQUEST_TIMEOUT_MS = 15_000;
// The open-loop scheduler wakes this often and sends whatever has come due.
const TICK_MS = 1;

export interface RunOptions {
  clients: readonly DeviceClient[];
  workload: Workload;
  mix: Mix;
  requests: number;
  mode: 'closed' | 'open';
  // open: arrivals per second (required). closed: an optional cap on the total rate.
  rate?: number;
  // closed: how many devices send at once (default: all of them).
  concurrency?: number;
  requestTimeoutMs?: number;
  // Send for this long instead of until `requests` are sent; `requests` is then a cap
  // (a run that reaches it ends early and says so in `endedEarly`).
  durationMs?: number;
}

export interface OpStats {
  requests: number;
  ok: number;
  latencyMs: Percentiles;
}

export interface RunReport {
  mode: 'closed' | 'open';
  devices: number;
  concurrency?: number;
  offeredPerSecond?: number;
  requests: number;
  answered: number; // with the expected answer
  errors: Record<string, number>; // by error code, payment status or TIMEOUT
  shed: number; // open loop: arrivals not sent because too many were outstanding
  seconds: number;
  achievedPerSecond: number; // expected answers per second
  latencyMs: Percentiles;
  byOp: Partial<Record<Op, OpStats>>;
  endedEarly?: string; // a timed run that stopped before its time: why
}

class Tally {
  readonly all = new LatencyHistogram();
  readonly ops = new Map<Op, { requests: number; ok: number; h: LatencyHistogram }>();
  readonly errors: Record<string, number> = {};
  answered = 0;
  shed = 0;
  sent = 0;

  op(op: Op) {
    let s = this.ops.get(op);
    if (!s) this.ops.set(op, (s = { requests: 0, ok: 0, h: new LatencyHistogram() }));
    return s;
  }

  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
}

export async function runLoad(o: RunOptions): Promise<RunReport> {
  assert(o.clients.length > 0, 'a load run needs devices');
  assert(Number.isSafeInteger(o.requests) && o.requests >= 0, 'a whole number of requests');
  const ops = planOps(o.mix, o.requests);
  const tally = new Tally();
  const timeoutMs = o.requestTimeoutMs ?? LOAD_REQUEST_TIMEOUT_MS;
  const started = performance.now();
  const deadline = o.durationMs === undefined ? Infinity : started + o.durationMs;
  if (o.mode === 'closed') await closedLoop(o, ops, tally, timeoutMs, started, deadline);
  else await openLoop(o, ops, tally, timeoutMs, started, deadline);
  const seconds = (performance.now() - started) / 1000;
  const byOp: RunReport['byOp'] = {};
  for (const op of OPS) {
    const s = tally.ops.get(op);
    if (s) byOp[op] = { requests: s.requests, ok: s.ok, latencyMs: s.h.summary() };
  }
  return {
    mode: o.mode, devices: o.clients.length,
    ...(o.mode === 'closed' ? { concurrency: Math.min(o.concurrency ?? o.clients.length, o.clients.length) } : {}),
    ...(o.rate ? { offeredPerSecond: o.rate } : {}),
    requests: o.durationMs === undefined ? o.requests : tally.sent, answered: tally.answered, errors: tally.errors, shed: tally.shed,
    seconds: round(seconds), achievedPerSecond: round(tally.answered / seconds),
    latencyMs: tally.all.summary(), byOp,
    ...(o.durationMs !== undefined && tally.sent + tally.shed >= o.requests ? { endedEarly: `all ${o.requests} planned requests sent` } : {}),
  };
}

// `sentAt` is when the request was due, not when it went out: a late send is latency
// the device saw (no coordinated omission in the open loop).
async function one(client: DeviceClient, o: RunOptions, op: Op, tally: Tally, timeoutMs: number, sentAt: number): Promise<void> {
  const planned = o.workload.request(op);
  const stats = tally.op(op);
  stats.requests += 1;
  tally.sent += 1;
  try {
    const reply = await client.request(planned.type, planned.body, { timeoutMs });
    const ms = performance.now() - sentAt;
    const body = reply.body as { code?: string; status?: string };
    if (reply.type !== planned.expect) return tally.error(body.code ?? reply.type);
    if (reply.type === 'payment.result' && body.status !== 'succeeded') return tally.error(`payment.${body.status ?? 'unknown'}`);
    tally.answered += 1;
    stats.ok += 1;
    tally.all.recordMs(ms);
    stats.h.recordMs(ms);
  } catch (err) {
    tally.error(err instanceof DeviceClientError && err.code === 'DEVICE_TIMEOUT' ? 'TIMEOUT' : err instanceof DeviceClientError ? err.code : 'CLIENT_ERROR');
  }
}

async function closedLoop(o: RunOptions, ops: Op[], tally: Tally, timeoutMs: number, started: number, deadline: number): Promise<void> {
  const workers = Math.max(1, Math.min(o.concurrency ?? o.clients.length, o.clients.length));
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const client = o.clients[w]!;
    while (next < ops.length && performance.now() < deadline) {
      const k = next++;
      if (o.rate) await sleepUntil(started + (k * 1000) / o.rate);
      await one(client, o, ops[k]!, tally, timeoutMs, performance.now());
    }
  }));
}

async function openLoop(o: RunOptions, ops: Op[], tally: Tally, timeoutMs: number, started: number, deadline: number): Promise<void> {
  assert(o.rate !== undefined && o.rate > 0, 'an open loop needs a rate');
  const rate = o.rate;
  const outstanding = new Set<Promise<void>>();
  const perDevice = new Uint16Array(o.clients.length);
  let sent = 0;
  while (sent < ops.length && performance.now() < deadline) {
    const due = Math.min(ops.length, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    for (; sent < due; sent += 1) {
      const at = started + (sent * 1000) / rate;
      const d = sent % o.clients.length;
      if (outstanding.size >= OPEN_LOOP_OUTSTANDING_MAX || perDevice[d]! >= OUTSTANDING_PER_DEVICE_MAX) {
        tally.shed += 1;
        continue;
      }
      perDevice[d]! += 1;
      const p = one(o.clients[d]!, o, ops[sent]!, tally, timeoutMs, at).finally(() => {
        perDevice[d]! -= 1;
        outstanding.delete(p);
      });
      outstanding.add(p);
    }
    if (sent < ops.length) await sleepUntil(Math.max(started + (sent * 1000) / rate, performance.now() + TICK_MS));
  }
  await Promise.all(outstanding);
}

function sleepUntil(at: number): Promise<void> {
  const ms = at - performance.now();
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function formatRun(r: RunReport): string {
  const errors = Object.entries(r.errors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  const how = r.mode === 'closed' ? `closed loop, ${r.concurrency} in flight` : `open loop at ${r.offeredPerSecond}/s`;
  const l = r.latencyMs;
  const lines = [
    `${r.requests} requests from ${r.devices} devices, ${how}: ${r.answered} answered in ${r.seconds.toFixed(2)} s = ${r.achievedPerSecond.toFixed(0)}/s`,
    `  latency p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms; errors: ${errors}${r.shed ? `; shed ${r.shed}` : ''}`,
  ];
  for (const [op, s] of Object.entries(r.byOp)) {
    lines.push(`  ${op.padEnd(8)} ${String(s.ok).padStart(7)}/${s.requests} ok  p50 ${s.latencyMs.p50} ms  p99 ${s.latencyMs.p99} ms`);
  }
  return lines.join('\n');
}
