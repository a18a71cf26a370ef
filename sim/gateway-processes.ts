// The gateway as real child processes (the compiled inner and outer entry files), with
// ports chosen here: for the crash tests that kill one side with SIGKILL, the hospital
// day simulation and the benchmarks. The payment-server simulator runs in the calling
// process: it stands for another organisation's server.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clockEnv, type ScaledClock } from '../runtime/common/clock.js';
import { SIDE_NODE_FLAGS } from '../runtime/common/node-flags.js';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');
// How long a side gets to open its ports after being started.
const START_TIMEOUT_MS = 15_000;

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ProcessGatewayOptions {
  dataDir: string;
  rulesDir: string;
  paymentUrl: string;
  replyWaitMs?: number;
  logLevel?: string;
  clock?: ScaledClock; // both sides run on it (a simulation faster than real time)
  // The management API's port (default: any free one, unknown to the caller). A box of an
  // active/standby pair is asked /readyz on it.
  managementPort?: number;
}

export class ProcessGateway {
  private inner: ChildProcess | null = null;
  private outer: ChildProcess | null = null;

  private constructor(private readonly opts: ProcessGatewayOptions, readonly mqttPort: number, readonly notifyPort: number) {}

  static async create(opts: ProcessGatewayOptions): Promise<ProcessGateway> {
    return new ProcessGateway(opts, await freePort(), await freePort());
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get notifyUrl(): string {
    return `http://127.0.0.1:${this.notifyPort}/v1/notifications`;
  }

  pid(which: 'inner' | 'outer'): number | undefined {
    return (which === 'inner' ? this.inner : this.outer)?.pid;
  }

  private args(): string[] {
    return [
      '--rules', this.opts.rulesDir, '--data', this.opts.dataDir,
      '--mqtt-host', '127.0.0.1', '--mqtt-port', String(this.mqttPort),
      '--notify-host', '127.0.0.1', '--notify-port', String(this.notifyPort),
      '--payment-url', this.opts.paymentUrl, '--reply-wait-ms', String(this.opts.replyWaitMs ?? 1500), '--management-port', String(this.opts.managementPort ?? 0),
      '--log-level', this.opts.logLevel ?? process.env.FERRY_TEST_LOG ?? 'warn',
    ];
  }

  private env(): NodeJS.ProcessEnv {
    return this.opts.clock ? { ...process.env, ...clockEnv(this.opts.clock) } : process.env;
  }

  get managementUrl(): string {
    if (!this.opts.managementPort) throw new Error('no fixed management port: pass managementPort');
    return `http://127.0.0.1:${this.opts.managementPort}`;
  }

  // Resolves once the side listens for devices; or, for a box of a pair that may start
  // as the standby (which opens no MQTT port), once its management API listens.
  async startInner(o: { until?: 'mqtt' | 'management' } = {}): Promise<void> {
    this.inner = spawn(process.execPath, [...SIDE_NODE_FLAGS.inner, INNER_MAIN, ...this.args()], { stdio: ['ignore', logTo('inner'), 'inherit'], env: this.env() });
    if (o.until === 'management') {
      if (!this.opts.managementPort) throw new Error('no fixed management port: pass managementPort');
      await waitListening(this.opts.managementPort, this.inner);
    } else {
      await waitListening(this.mqttPort, this.inner);
    }
  }

  async startOuter(): Promise<void> {
    this.outer = spawn(process.execPath, [...SIDE_NODE_FLAGS.outer, OUTER_MAIN, ...this.args()], { stdio: ['ignore', logTo('outer'), 'inherit'], env: this.env() });
    await waitListening(this.notifyPort, this.outer);
  }

  // How the side's process ended, once it has: for a side that exits by itself (an inner
  // side of a pair that lost its lock).
  exited(which: 'inner' | 'outer'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = which === 'inner' ? this.inner : this.outer;
    if (!child) throw new Error(`the ${which} side was not started`);
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async kill(which: 'inner' | 'outer', signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = which === 'inner' ? this.inner : this.outer;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill('outer', 'SIGTERM');
    await this.kill('inner', 'SIGTERM');
  }
}

// FERRY_TEST_LOG_DIR=DIR keeps each side's JSON log in DIR/<side>.log, to read after a
// failed run; otherwise the logs are dropped.
function logTo(side: string): 'ignore' | number {
  const dir = process.env.FERRY_TEST_LOG_DIR;
  return dir ? fs.openSync(path.join(dir, `${side}.log`), 'a') : 'ignore';
}

async function waitListening(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway process exited with ${child.exitCode} before listening on ${port}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
