// The gateway as real child processes (the compiled inner and outer entry files), for
// the tests that kill one of them with SIGKILL. The payment-server simulator runs in
// the test process: it stands for another organisation's server.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_DIR, EXAMPLE_RULES, waitFor } from './gateway.js';

const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ProcessGatewayOptions {
  dataDir: string;
  paymentUrl: string;
  rulesDir?: string;
  paymentTimeoutMs?: number;
}

export class ProcessGateway {
  readonly mqttPort: number;
  readonly notifyPort: number;
  private readonly opts: ProcessGatewayOptions;
  private inner: ChildProcess | null = null;
  private outer: ChildProcess | null = null;

  private constructor(opts: ProcessGatewayOptions, mqttPort: number, notifyPort: number) {
    this.opts = opts;
    this.mqttPort = mqttPort;
    this.notifyPort = notifyPort;
  }

  static async create(opts: ProcessGatewayOptions): Promise<ProcessGateway> {
    return new ProcessGateway(opts, await freePort(), await freePort());
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get notifyUrl(): string {
    return `http://127.0.0.1:${this.notifyPort}/v1/notifications`;
  }

  private args(): string[] {
    return [
      '--rules', this.opts.rulesDir ?? EXAMPLE_RULES, '--data', this.opts.dataDir,
      '--mqtt-host', '127.0.0.1', '--mqtt-port', String(this.mqttPort),
      '--notify-host', '127.0.0.1', '--notify-port', String(this.notifyPort),
      '--payment-url', this.opts.paymentUrl, '--reply-wait-ms', '1500', '--log-level', process.env.FERRY_TEST_LOG ?? 'warn',
    ];
  }

  async startInner(): Promise<void> {
    this.inner = spawn(process.execPath, [INNER_MAIN, ...this.args()], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitFor(() => canConnect(this.mqttPort), 10_000, 'the inner side to listen');
  }

  async startOuter(): Promise<void> {
    this.outer = spawn(process.execPath, [OUTER_MAIN, ...this.args()], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitFor(() => canConnect(this.notifyPort), 10_000, 'the outer side to listen');
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
