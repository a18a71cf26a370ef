// Patient messages per second to one department: kiosks send patient.info to the inner
// process (a real child, as `ferry start` runs it), and one workstation of the
// department receives and acknowledges each one. A message counts when its ack has been
// answered, so the figure covers both transactions (queue and ack) and both fsyncs.
// Prints figures only; no assertions.
// Run: node dist/sim/bench/dispatch-bench.js [messages] [concurrency]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { DeviceClient } from '../../devices/client.js';
import { DEMO_DEVICES, demoPassword } from '../demo-devices.js';
import { WorkstationSim } from '../devices/workstation.js';
import { ProcessGateway } from '../gateway-processes.js';

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WAIT_MS = 120_000;

export interface DispatchBenchResult {
  messages: number;
  concurrency: number;
  acceptedPerSecond: number; // kiosk to dispatch.queued answer
  processedPerSecond: number; // kiosk to the workstation's answered ack
  seconds: number;
}

export async function runDispatchBench(messages = 2000, concurrency = 32): Promise<DispatchBenchResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-dispatch-bench-'));
  const rulesDir = path.join(work, 'rules');
  fs.cpSync(path.join(PROJECT, 'rules'), rulesDir, { recursive: true });
  liftRateLimits(rulesDir);
  const gw = await ProcessGateway.create({ dataDir: path.join(work, 'data'), rulesDir, paymentUrl: 'http://127.0.0.1:9', logLevel: 'warn' });
  const closers: Array<() => Promise<void>> = [];
  try {
    await gw.startInner();
    const conn = (id: string) => ({ url: gw.mqttUrl, id, password: demoPassword(id)! });
    const ws = await WorkstationSim.connect(conn('ws-int-01'), { dept: 'INT', maxAcksInFlight: concurrency });
    closers.push(() => ws.close());
    const kiosks = await Promise.all(DEMO_DEVICES.filter((d) => d.role === 'kiosk').map((d) => DeviceClient.connect(conn(d.id))));
    for (const k of kiosks) closers.push(() => k.close());

    const started = performance.now();
    let next = 0;
    let acceptedAt = 0;
    const worker = async (w: number) => {
      const kiosk = kiosks[w % kiosks.length]!;
      while (next < messages) {
        const i = next++;
        const reply = await kiosk.request('patient.info', { symptoms: `bench patient ${i}: cough and fever`, dept: 'INT', vitals: { temperatureC: 38.2 } });
        if (reply.type !== 'dispatch.queued') throw new Error(`patient.info refused: ${JSON.stringify(reply.body)}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    acceptedAt = performance.now();
    await ws.until(() => ws.processed.length === messages, WAIT_MS, 'all processed');
    const seconds = (performance.now() - started) / 1000;
    return {
      messages, concurrency, seconds,
      acceptedPerSecond: messages / ((acceptedAt - started) / 1000),
      processedPerSecond: messages / seconds,
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await gw.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function formatDispatchBench(r: DispatchBenchResult): string {
  return `dispatch to one department: ${r.messages} messages, ${r.concurrency} in flight: `
    + `${r.processedPerSecond.toFixed(0)} msg/s kiosk to acknowledged at the workstation `
    + `(${r.acceptedPerSecond.toFixed(0)} msg/s accepted from kiosks), ${r.seconds.toFixed(2)} s`;
}

// The example rules limit a kiosk to 30 patient.info a minute; a benchmark sends more.
function liftRateLimits(rulesDir: string): void {
  const file = path.join(rulesDir, 'messages.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  const types = doc.get('messages') as YAML.YAMLMap<YAML.Scalar<string>, YAML.YAMLMap>;
  for (const pair of types.items) pair.value!.set('rate', doc.createNode({ perMinute: 60_000, burst: 10_000 }));
  fs.writeFileSync(file, doc.toString());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [messages, concurrency] = process.argv.slice(2).map(Number);
  console.log(formatDispatchBench(await runDispatchBench(messages || undefined, concurrency || undefined)));
}
