// Bill payments per second through the whole gateway: the inner and outer processes as
// real children (as `ferry start` runs them), the payment-server simulator in this
// process, kiosks as MQTT.js clients. Prints figures only; no assertions.
// Run: node dist/sim/bench/payments-bench.js [payments] [concurrency]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { PaymentServerSim } from '../payment-server/server.js';
import { DeviceClient } from '../../devices/client.js';
import { DEMO_DEVICES, demoPassword } from '../demo-devices.js';
import { loadGatewayConfig } from '../../runtime/rules/load.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(here, '../../..');

export interface PaymentsBenchResult {
  payments: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  charges: number;
}

export async function runPaymentsBench(payments = 2000, concurrency = 50): Promise<PaymentsBenchResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pay-bench-'));
  const rulesDir = path.join(work, 'rules');
  fs.cpSync(path.join(PROJECT, 'rules'), rulesDir, { recursive: true });
  liftRateLimits(rulesDir);
  const secret = loadGatewayConfig(rulesDir).payment.secret;
  const sim = new PaymentServerSim();
  const { url } = await sim.start({ host: '127.0.0.1', port: 0, secret });
  const [mqttPort, notifyPort] = [await freePort(), await freePort()];
  const args = ['--rules', rulesDir, '--data', path.join(work, 'data'), '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort),
    '--notify-host', '127.0.0.1', '--notify-port', String(notifyPort), '--payment-url', url, '--log-level', 'warn'];
  sim.setNotifyUrl(`http://127.0.0.1:${notifyPort}/v1/notifications`);
  const children: ChildProcess[] = [
    spawn(process.execPath, [path.join(PROJECT, 'dist/runtime/inner/main.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] }),
    spawn(process.execPath, [path.join(PROJECT, 'dist/runtime/outer/main.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'] }),
  ];
  const clients: DeviceClient[] = [];
  try {
    await waitListening(mqttPort);
    await waitListening(notifyPort);
    const connect = async (id: string) => {
      const c = await DeviceClient.connect({ url: `mqtt://127.0.0.1:${mqttPort}`, id, password: demoPassword(id)! });
      clients.push(c);
      return c;
    };
    const desk = await connect('billing-01');
    const kiosks = await Promise.all(DEMO_DEVICES.filter((d) => d.role === 'kiosk').map((d) => connect(d.id)));
    const bills: Array<{ billId: string; total: number }> = [];
    const items = [{ code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 }];
    for (let i = 0; i < payments; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, payments - i) }, (_, j) => desk.request('bill.create',
        { patientId: `P-B${i + j}`, reference: `BENCH-${i + j}`, items, total: 3500, currency: 'CNY' })));
      for (const r of batch) bills.push({ billId: (r.body as { billId: string }).billId, total: 3500 });
    }

    const latencies: number[] = [];
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      const kiosk = kiosks[w % kiosks.length]!;
      while (next < bills.length) {
        const bill = bills[next++]!;
        const t0 = process.hrtime.bigint();
        const r = await kiosk.request('payment.request', { billId: bill.billId, amount: bill.total, currency: 'CNY', method: 'code', authCode: '123456' }, { timeoutMs: 60_000 });
        if ((r.body as { status?: string }).status !== 'succeeded') throw new Error(`payment not succeeded: ${JSON.stringify(r.body)}`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    return { payments, concurrency, seconds, perSecond: payments / seconds, latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99) }, charges: sim.totalCharges() };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await sim.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function formatPaymentsBench(r: PaymentsBenchResult): string {
  return `payments: ${r.payments} bill payments, ${r.concurrency} in flight: ${r.perSecond.toFixed(0)} payments/s ` +
    `(${r.seconds.toFixed(2)} s), latency p50 ${r.latencyMs.p50.toFixed(1)} ms, p95 ${r.latencyMs.p95.toFixed(1)} ms, ` +
    `p99 ${r.latencyMs.p99.toFixed(1)} ms; ${r.charges} charges at the payment server`;
}

function liftRateLimits(rulesDir: string): void {
  const file = path.join(rulesDir, 'messages.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  const types = doc.get('messages') as YAML.YAMLMap<unknown, YAML.YAMLMap>;
  for (const pair of types.items) pair.value!.set('rate', doc.createNode({ perMinute: 60_000, burst: 10_000 }));
  fs.writeFileSync(file, doc.toString());
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function waitListening(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [payments, concurrency] = process.argv.slice(2).map(Number);
  console.log(formatPaymentsBench(await runPaymentsBench(payments || undefined, concurrency || undefined)));
}
