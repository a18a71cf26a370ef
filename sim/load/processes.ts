// The processes a bench measures, each a real child as in production: Ferry's inner and
// outer sides (as `ferry start` runs them) and the baseline echo broker. Their memory is
// read from /proc while they run; with a profile directory they run under --cpu-prof.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryOf } from './machine.js';
import { SIDE_NODE_FLAGS, type Side } from '../../runtime/common/node-flags.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INNER_MAIN = path.join(DIST, 'runtime/inner/main.js');
const OUTER_MAIN = path.join(DIST, 'runtime/outer/main.js');
const ECHO_MAIN = path.join(DIST, 'sim/load/echo-broker.js');
const SIM_MAIN = path.join(DIST, 'sim/payment-server/process.js');
// A process that does not listen within this long has failed to start.
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ChildOptions {
  cpuProfDir?: string; // node --cpu-prof into this directory
}

export class Child {
  constructor(readonly name: string, readonly proc: ChildProcess) {}

  get pid(): number {
    return this.proc.pid!;
  }

  memory() {
    return memoryOf(this.pid);
  }

  // SIGTERM, then SIGKILL if it does not stop in time (a profile is written on a clean exit).
  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

function nodeArgs(o: ChildOptions, name: string): string[] {
  return o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir, '--cpu-prof-name', `${name}.cpuprofile`] : [];
}

// The echo broker's and the simulator's V8 flags (none by default): FERRY_BENCH_NODE_FLAGS_ECHO
// and _SIMULATOR, to see whether a reference or the simulator, not Ferry, makes a figure.
function helperFlags(name: string): string[] {
  const text = process.env[`FERRY_BENCH_NODE_FLAGS_${name.toUpperCase()}`];
  return text === undefined || text === 'none' ? [] : text.split(/\s+/).filter(Boolean);
}

// A side's V8 flags as production runs it (common/node-flags.ts). FERRY_BENCH_NODE_FLAGS_INNER
// and _OUTER (space-separated; "none" for none) replace them, to measure other settings.
// A side's V8 flags in the bench: the production ones, or FERRY_BENCH_NODE_FLAGS_<SIDE>.
export function sideFlags(side: Side): readonly string[] {
  const text = process.env[`FERRY_BENCH_NODE_FLAGS_${side.toUpperCase()}`];
  if (text === undefined || text === '') return SIDE_NODE_FLAGS[side];
  return text === 'none' ? [] : text.split(/\s+/).filter(Boolean);
}

export interface GatewayProcesses {
  inner: Child;
  outer: Child;
  mqttUrl: string;
  notifyUrl: string;
  stop(): Promise<void>;
}

export async function startGatewayProcesses(o: ChildOptions & { rulesDir: string; dataDir: string; paymentUrl: string; logLevel?: string }): Promise<GatewayProcesses> {
  const [mqttPort, notifyPort] = [await freePort(), await freePort()];
  const args = ['--rules', o.rulesDir, '--data', o.dataDir, '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort),
    '--notify-host', '127.0.0.1', '--notify-port', String(notifyPort), '--payment-url', o.paymentUrl,
    '--management-port', '0', '--log-level', o.logLevel ?? 'warn'];
  const spawnNode = (name: Side, main: string) =>
    new Child(name, spawn(process.execPath, [...sideFlags(name), ...nodeArgs(o, name), main, ...args], { stdio: ['ignore', process.env.FERRY_BENCH_CHILD_STDOUT ? 'inherit' : 'ignore', 'inherit'] }));
  const inner = spawnNode('inner', INNER_MAIN);
  const outer = spawnNode('outer', OUTER_MAIN);
  const stop = async () => {
    await outer.stop();
    await inner.stop();
  };
  try {
    await waitListening(mqttPort, inner);
    await waitListening(notifyPort, outer);
  } catch (err) {
    await stop();
    throw err;
  }
  return { inner, outer, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, notifyUrl: `http://127.0.0.1:${notifyPort}/v1/notifications`, stop };
}

export async function startEchoProcess(o: ChildOptions = {}): Promise<{ child: Child; mqttUrl: string }> {
  const { child, address } = await startListening('echo', ECHO_MAIN, ['0'], o);
  return { child, mqttUrl: `mqtt://127.0.0.1:${address}` };
}

// The payment simulator in a process of its own (sim/payment-server/process.ts).
export async function startPaymentSimProcess(secret: string, o: ChildOptions = {}): Promise<{ child: Child; url: string; totalCharges(): Promise<number> }> {
  const { child, address: url } = await startListening('simulator', SIM_MAIN, [], o, { FERRY_SIM_SECRET: secret });
  return {
    child, url,
    async totalCharges() {
      const res = await fetch(`${url}/_sim/charges`);
      return ((await res.json()) as { totalCharges: number }).totalCharges;
    },
  };
}

// Starts a child that prints `listening <address>` once it does.
async function startListening(name: string, main: string, args: string[], o: ChildOptions, env: Record<string, string> = {}): Promise<{ child: Child; address: string }> {
  const child = new Child(name, spawn(process.execPath, [...helperFlags(name), ...nodeArgs(o, name), main, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } }));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} process did not start`)), START_TIMEOUT_MS);
    let text = '';
    const out = child.proc.stdout!;
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening (\S+)\n/.exec(text);
      if (!m) return;
      clearTimeout(timer);
      // Whatever it prints later (a GC trace) is shown or drained, never left to fill the pipe.
      out.off('data', onData);
      if (process.env.FERRY_BENCH_CHILD_STDOUT) out.pipe(process.stdout);
      else out.resume();
      resolve(m[1]!);
    };
    out.on('data', onData);
    child.proc.once('exit', (code) => reject(new Error(`the ${name} process exited with ${code}`)));
  }).catch(async (err) => {
    await child.stop();
    throw err;
  });
  return { child, address };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitListening(port: number, child: Child): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`the ${child.name} process exited with ${child.proc.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the ${child.name} process is not listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
