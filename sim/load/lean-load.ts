// A lean load generator for the bench: the same payment.request envelopes, topics and
// QoS as devices/client.ts, sent over bare MQTT.js connections with as little work per
// request as possible, so that what it measures is the broker's cost and not its own.
// Per request it builds one string from a prepared template and finds the reply's
// `re` in the raw bytes; there are no resends, timers or predicate scans (a request
// unanswered when the run ends is counted as TIMEOUT). devices/client.ts stays the
// generator of record for what a real kiosk costs; this one bounds what the clients
// of a run take from the machine.
import fs from 'node:fs';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { PROTOCOL_VERSION, topics } from '../../devices/protocol.js';
import { KEEPALIVE_S } from '../../devices/client.js';
import { assert } from '../../runtime/common/errors.js';
import type { Credential } from './devices-file.js';
import { LatencyHistogram } from './histogram.js';
import type { RunReport } from './run.js';
import { ACCEPTED_AUTH_CODE, type PreparedBill } from './workload.js';

// How long requests still unanswered when a run's time is up are waited for.
export const LEAN_DRAIN_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const TICK_MS = 1;
// With FERRY_BENCH_LATENCY_LOG, each open-loop run appends one JSON line to that file: its
// requests' [wall-clock ms when due, latency ms], for sim/bench/tail-report.ts.
const LATENCY_LOG = process.env.FERRY_BENCH_LATENCY_LOG;

const RE_MARK = Buffer.from('"re":"');
const QUOTE = 0x22;
const SUCCEEDED = Buffer.from('"status":"succeeded"');
const RESULT = Buffer.from('"type":"payment.result"');

interface Pending {
  at: number; // when the request was due (open loop) or sent (closed loop)
  done: () => void;
}

export class LeanDevice {
  readonly up: string;
  readonly pending = new Map<string, Pending>();

  private constructor(readonly id: string, readonly mqtt: MqttClient, private readonly onReply: (device: LeanDevice, payload: Buffer) => void) {
    this.up = topics.up(id, 'payment.request');
    mqtt.on('message', (_topic, payload) => this.onReply(this, payload));
  }

  static async connect(url: string, cred: Credential, onReply: (device: LeanDevice, payload: Buffer) => void): Promise<LeanDevice> {
    const client = mqtt.connect(url, {
      protocolVersion: 4, clientId: cred.id, username: cred.id, password: cred.password, clean: true,
      keepalive: KEEPALIVE_S, reconnectPeriod: 0, connectTimeout: CONNECT_TIMEOUT_MS,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error(`${cred.id}: connection closed before CONNACK`)));
    });
    (client.stream as Partial<Socket>).setNoDelay?.(true);
    await new Promise<void>((resolve, reject) => client.subscribe(topics.down(cred.id), { qos: 1 }, (err, granted) => {
      if (err || !granted || granted.some((g) => g.qos === 0x80)) reject(err ?? new Error(`${cred.id}: subscription refused`));
      else resolve();
    }));
    return new LeanDevice(cred.id, client, onReply);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.mqtt.end(true, {}, () => resolve()));
  }
}

export interface LeanRunOptions {
  devices: readonly LeanDevice[];
  bills: readonly PreparedBill[]; // one per request; a run that uses them all ends early
  durationMs: number;
  mode: 'closed' | 'open';
  concurrency?: number; // closed: devices sending at once (default all)
  rate?: number; // open: requests per second
  tag: string; // makes the run's request ids unique across runs
}

// One lean fleet, reused across runs: `run` installs the run's reply handler.
export class LeanFleet {
  private handler: (device: LeanDevice, payload: Buffer) => void = () => {};

  private constructor(readonly devices: LeanDevice[]) {}

  static async connect(url: string, creds: readonly Credential[]): Promise<LeanFleet> {
    const devices: LeanDevice[] = [];
    const fleet = new LeanFleet(devices);
    try {
      for (const cred of creds) devices.push(await LeanDevice.connect(url, cred, (d, p) => fleet.handler(d, p)));
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.close()));
  }

  run(o: Omit<LeanRunOptions, 'devices'>): Promise<RunReport> {
    return leanRun({ ...o, devices: this.devices }, (h) => (this.handler = h));
  }
}

async function leanRun(o: LeanRunOptions, install: (h: (device: LeanDevice, payload: Buffer) => void) => void): Promise<RunReport> {
  assert(o.devices.length > 0, 'a lean run needs devices');
  assert(o.durationMs > 0, 'a lean run has a duration');
  const histogram = new LatencyHistogram();
  const samples: Array<[number, number]> | null = LATENCY_LOG && o.mode === 'open' ? [] : null;
  const errors: Record<string, number> = {};
  const error = (code: string) => (errors[code] = (errors[code] ?? 0) + 1);
  let answered = 0;
  let sent = 0;
  const prefix = `r${o.tag}.`;
  // Everything after the id and before the bill id is the same for every request.
  const head = `{"v":${PROTOCOL_VERSION},"id":"`;
  const body = (bill: PreparedBill) => `","type":"payment.request","ts":"${new Date().toISOString()}","body":{"billId":"${bill.billId}","amount":${bill.total},"currency":"CNY","method":"code","authCode":"${ACCEPTED_AUTH_CODE}"}}`;

  install((device, payload) => {
    const at = payload.indexOf(RE_MARK);
    if (at < 0) return; // not an answer to a request (a notice): nothing waits for it
    const from = at + RE_MARK.length;
    const to = payload.indexOf(QUOTE, from);
    const p = device.pending.get(payload.toString('latin1', from, to));
    if (!p) return;
    device.pending.delete(payload.toString('latin1', from, to));
    if (payload.includes(RESULT) && payload.includes(SUCCEEDED)) {
      answered += 1;
      const ms = performance.now() - p.at;
      histogram.recordMs(ms);
      samples?.push([Math.round(performance.timeOrigin + p.at), Math.round(ms * 10) / 10]);
    } else {
      error(payload.includes(RESULT) ? 'payment.not_succeeded' : 'refused');
    }
    p.done();
  });

  const send = (device: LeanDevice, at: number, done: () => void): boolean => {
    const bill = o.bills[sent];
    if (bill === undefined) return false;
    const id = prefix + (sent++).toString(36);
    device.pending.set(id, { at, done });
    device.mqtt.publish(device.up, head + id + body(bill), { qos: 1 });
    return true;
  };

  const started = performance.now();
  const deadline = started + o.durationMs;
  let outOfBills = false;
  if (o.mode === 'closed') {
    const workers = Math.max(1, Math.min(o.concurrency ?? o.devices.length, o.devices.length));
    await Promise.all(Array.from({ length: workers }, (_, w) => new Promise<void>((resolve) => {
      const device = o.devices[w]!;
      const next = (): void => {
        if (performance.now() >= deadline) return resolve();
        if (!send(device, performance.now(), next)) {
          outOfBills = true;
          resolve();
        }
      };
      next();
    })));
  } else {
    assert(o.rate !== undefined && o.rate > 0, 'an open loop needs a rate');
    const rate = o.rate;
    const noop = () => {};
    let k = 0;
    for (;;) {
      const now = performance.now();
      if (now >= deadline) break;
      const due = Math.floor(((now - started) * rate) / 1000) + 1;
      for (; k < due; k += 1) {
        if (!send(o.devices[k % o.devices.length]!, started + (k * 1000) / rate, noop)) break;
      }
      if (sent < k) {
        outOfBills = true;
        break;
      }
      await new Promise((r) => setTimeout(r, Math.max(TICK_MS, started + (k * 1000) / rate - performance.now())));
    }
  }
  await drain(o.devices);
  for (const d of o.devices) {
    for (let n = d.pending.size; n > 0; n -= 1) error('TIMEOUT');
    d.pending.clear();
  }
  install(() => {});
  if (samples && LATENCY_LOG) fs.appendFileSync(LATENCY_LOG, JSON.stringify(samples) + '\n');
  // From the first send to the last answer: a closed loop's last requests are answered
  // after its time is up.
  const seconds = (performance.now() - started) / 1000;
  const l = histogram.summary();
  return {
    mode: o.mode, devices: o.devices.length,
    ...(o.mode === 'closed' ? { concurrency: Math.min(o.concurrency ?? o.devices.length, o.devices.length) } : {}),
    ...(o.rate ? { offeredPerSecond: o.rate } : {}),
    requests: sent, answered, errors, shed: 0, seconds: round(seconds),
    achievedPerSecond: round(answered / seconds),
    latencyMs: l, byOp: { pay: { requests: sent, ok: answered, latencyMs: l } },
    ...(outOfBills ? { endedEarly: 'out of bills' } : {}),
  };
}

async function drain(devices: readonly LeanDevice[]): Promise<void> {
  const until = performance.now() + LEAN_DRAIN_MS;
  while (devices.some((d) => d.pending.size > 0) && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
