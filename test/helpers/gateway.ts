// A whole gateway in the test process: the real inner side (broker, gap, LevelDB in a
// temp dir, or a PostgreSQL store in the second pass), the real outer side, and the payment-server simulator over real HTTP, all
// on ports chosen by the OS. Crash tests use ./processes.ts instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import YAML from 'yaml';
import { loadRules } from '../../runtime/rules/load.js';
import { applyOverrides } from '../../runtime/rules/overrides.js';
import type { Rules } from '../../runtime/rules/types.js';
import { startInner, type RunningInner } from '../../runtime/inner/inner.js';
import { startOuter, type OuterTuning } from '../../runtime/outer/outer.js';
import type { Clock } from '../../runtime/common/clock.js';
import type { NotifyLimits } from '../../runtime/outer/notify/limits.js';
import { PaymentServerSim } from '../../sim/payment-server/server.js';
import { DeviceClient } from '../../devices/client.js';
import { demoPassword } from '../../sim/demo-devices.js';
import { removeStoreArtefacts, urlFileFor } from './store-backend.js';

export const PROJECT_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const EXAMPLE_RULES = path.join(PROJECT_DIR, 'rules');

export const quietLog = pino({ level: process.env.FERRY_TEST_LOG ?? 'silent' });

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ferry-${prefix}-`));
}

// A copy of the example rules that a test may edit; `rate` replaces every message
// type's rate limit, for load tests that send more than a kiosk ever would.
export function copyRules(o: { rate?: { perMinute: number; burst: number } } = {}): string {
  const dir = tempDir('rules');
  fs.cpSync(EXAMPLE_RULES, dir, { recursive: true });
  if (o.rate) {
    const file = path.join(dir, 'messages.yaml');
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    const types = doc.get('messages') as YAML.YAMLMap<YAML.Scalar<string>, YAML.YAMLMap>;
    for (const pair of types.items) pair.value!.set('rate', doc.createNode(o.rate));
    fs.writeFileSync(file, doc.toString());
  }
  return dir;
}

export const LOAD_RATE = { perMinute: 60_000, burst: 5_000 };

export interface TestGateway {
  rules: Rules;
  dataDir: string;
  mqttUrl: string;
  inner: RunningInner;
  sim: PaymentServerSim;
  notifyUrl(): string; // the running outer side's notification endpoint
  stopOuter(): Promise<void>;
  startOuter(): Promise<void>;
  device(id: string, password?: string): Promise<DeviceClient>;
  // keepData: leave the stopped gateway's data directory for the test (which removes it).
  close(o?: { keepData?: boolean }): Promise<void>;
}

export interface TestGatewayOptions {
  replyWaitMs?: number;
  paymentTimeoutMs?: number;
  qrDelayMs?: number;
  rulesDir?: string;
  log?: Logger; // the inner side's log (default: silent)
  outerLog?: Logger; // to read what the outer side logs
  notifyLimits?: Partial<NotifyLimits>;
  outerTuning?: Partial<OuterTuning>; // e.g. a shorter metrics interval
  now?: () => Date; // one clock for the inner side and the payment server
  // Both sides' clock, timers included (a ScaledClock runs them faster than real time).
  // The payment server stays on real time: it stands for another organisation's server,
  // whose held answers and timeouts a test's clock does not speed up.
  clock?: Clock;
  dataDir?: string; // an existing data directory (a migrated or restored store); default a new one
  // The store on this PostgreSQL database (its connection string), whatever the pass.
  storeUrl?: string;
}

export async function startTestGateway(o: TestGatewayOptions = {}): Promise<TestGateway> {
  const dataDir = o.dataDir ?? tempDir('data');
  const rulesDir = o.rulesDir ?? EXAMPLE_RULES;
  const loaded = loadRules(rulesDir);
  const overridden = applyOverrides(loaded.gateway, {
    rulesDir, dataDir,
    values: { 'mqtt-host': '127.0.0.1', 'mqtt-port': '0', 'notify-host': '127.0.0.1', 'notify-port': '0', 'reply-wait-ms': String(o.replyWaitMs ?? 3000), 'management-port': '0' },
  });
  // The PostgreSQL pass: the store on a fresh database, as gateway.yaml would name it.
  if (o.storeUrl !== undefined) fs.writeFileSync(`${dataDir}.pg-url`, `${o.storeUrl}\n`, { mode: 0o600 });
  const urlFile = o.storeUrl !== undefined ? `${dataDir}.pg-url` : await urlFileFor(dataDir);
  const gateway = urlFile ? { ...overridden, store: { backend: 'postgres' as const, postgres: { urlFile } } } : overridden;
  const rules: Rules = { ...loaded, gateway };
  const sim = new PaymentServerSim();
  const clock = o.now;
  const { url: paymentUrl } = await sim.start({
    host: '127.0.0.1', port: 0, secret: gateway.payment.secret, qrDelayMs: o.qrDelayMs ?? 200, timeZone: gateway.timeZone,
    ...(clock ? { now: () => clock().getTime() } : {}),
  });
  const inner = await startInner({ rules, gatewayFile: loaded.gateway, dataDir, log: o.log ?? quietLog, ...(clock ? { now: clock } : {}), ...(o.clock ? { clock: o.clock } : {}) });
  if (urlFile && inner.store.engineKind !== 'postgres') throw new Error(`the test gateway was to run on PostgreSQL; its store is on ${inner.store.engineKind}`);

  let outer: Awaited<ReturnType<typeof startOuter>> | null = null;
  const launchOuter = async () => {
    outer = await startOuter({
      socketPath: inner.socketPath,
      payment: { url: paymentUrl, secret: gateway.payment.secret, timeoutMs: o.paymentTimeoutMs ?? gateway.payment.timeoutMs },
      notify: gateway.notify, log: o.outerLog ?? quietLog,
      ...(o.notifyLimits || o.outerTuning ? { tuning: { ...o.outerTuning, ...(o.notifyLimits ? { notifyLimits: o.notifyLimits } : {}) } } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
    });
    sim.setNotifyUrl(outer.notifyUrl);
  };
  await launchOuter();
  await waitFor(() => inner.payments.outerConnected, 5000, 'outer side connected');

  const clients: DeviceClient[] = [];
  const mqttUrl = `mqtt://127.0.0.1:${inner.broker.port}`;
  return {
    rules, dataDir, mqttUrl, inner, sim,
    notifyUrl() {
      if (!outer) throw new Error('the outer side is stopped');
      return outer.notifyUrl;
    },
    async stopOuter() {
      await outer?.close();
      outer = null;
    },
    async startOuter() {
      await launchOuter();
      await waitFor(() => inner.payments.outerConnected, 5000, 'outer side connected');
    },
    async device(id, password) {
      const client = await DeviceClient.connect({ url: mqttUrl, id, password: password ?? demoPassword(id)! });
      clients.push(client);
      return client;
    },
    async close(c = {}) {
      await Promise.all(clients.map((client) => client.close()));
      await outer?.close();
      await inner.close();
      await sim.stop();
      if (!c.keepData) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        removeStoreArtefacts(dataDir);
      }
    },
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sampleItems = [
  { code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 },
  { code: 'MED-104', name: 'Amoxicillin 0.25g x24', quantity: 2, unitPrice: 1850 },
];
export const sampleTotal = 3500 + 2 * 1850;
