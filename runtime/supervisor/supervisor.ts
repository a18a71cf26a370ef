// Keeps the gateway's processes running: starts each child, restarts one that dies (at
// once after a crash, with growing delays in a crash loop), and stops them all on
// SIGTERM. The children share nothing but the channel socket; the supervisor holds no
// secrets beyond what it passes on and never touches a device or the payment server.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../common/logger.js';
import { EventEmitter } from 'node:events';
import { SIDE_READY_MESSAGE } from '../common/side-exit.js';

// Restart policy. A child that had been up a while and then died (a kill -9, a bug hit
// once) is started again at once: the channel is a Unix socket on this box and the
// other side is waiting, so every second of delay is a second of kiosks waiting.
// Only a child that dies soon after it starts (a bad file, a port taken, a crash loop)
// is restarted with growing delays, so that it cannot spin the CPU or flood the log.
export const RESTART_POLICY = Object.freeze({
  // Up for less than this: a quick death, which counts toward the backoff.
  quickDeathMs: 2_000,
  // After a child that had been up at least quickDeathMs.
  afterUptimeMs: 50,
  // After the n-th quick death in a row: baseMs * 2^(n-1), capped.
  baseMs: 250,
  maxMs: 10_000,
});

// How long to wait before starting a child again after its n-th consecutive quick
// death (0: it had been up a while).
export function restartDelayMs(quickDeaths: number): number {
  if (quickDeaths === 0) return RESTART_POLICY.afterUptimeMs;
  return Math.min(RESTART_POLICY.maxMs, RESTART_POLICY.baseMs * 2 ** Math.min(quickDeaths - 1, 30));
}

// How long a child gets to finish its writes after SIGTERM before it is killed.
const STOP_GRACE_MS = 10_000;

export interface Restart {
  child: string;
  uptimeMs: number;
  quickDeaths: number; // consecutive quick deaths, this one included
  delayMs: number;
}

export interface SupervisorOptions {
  now?: () => number;
  // Exit statuses after which a restart cannot help (a port taken): the supervisor
  // emits 'fatal' instead of restarting, and whoever runs it decides what to do.
  fatalExitCodes?: readonly number[];
  // Runs fn after ms; returns a cancel function. Tests pass one that records the delays.
  schedule?: (fn: () => void, ms: number) => () => void;
}

export interface ChildSpec {
  name: string;
  script: string; // absolute path of a Node.js entry file
  args: string[];
  nodeFlags?: readonly string[]; // node's own options, before the script (common/node-flags.ts)
  env?: Record<string, string>;
}

interface Running {
  spec: ChildSpec;
  process: ChildProcess | null;
  startedMs: number;
  quickDeaths: number;
  cancel: (() => void) | null;
}

// The children are not systemd's to track: were `ferry start` itself run under a
// Type=notify unit, a child given NOTIFY_SOCKET would report READY=1 and watchdog pings
// for the whole gateway.
const SYSTEMD_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of SYSTEMD_ENV) delete env[name];
  return env;
}

function scheduleWithTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

export class Supervisor extends EventEmitter<{ restart: [Restart]; fatal: [{ child: string; code: number }]; ready: [string] }> {
  private readonly children: Running[];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  private readonly fatalExitCodes: readonly number[];
  private stopping = false;

  constructor(specs: ChildSpec[], log: Logger, opts: SupervisorOptions = {}) {
    super();
    this.children = specs.map((spec) => ({ spec, process: null, startedMs: 0, quickDeaths: 0, cancel: null }));
    this.log = log;
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? scheduleWithTimer;
    this.fatalExitCodes = opts.fatalExitCodes ?? [];
  }

  start(): void {
    for (const child of this.children) this.launch(child);
  }

  pid(name: string): number | undefined {
    return this.children.find((c) => c.spec.name === name)?.process?.pid;
  }

  signal(name: string, signal: NodeJS.Signals): boolean {
    return this.children.find((c) => c.spec.name === name)?.process?.kill(signal) ?? false;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.children.map((child) => this.terminate(child)));
  }

  private launch(child: Running): void {
    child.cancel = null;
    if (this.stopping) return;
    const proc = spawn(process.execPath, [...(child.spec.nodeFlags ?? []), child.spec.script, ...child.spec.args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: childEnv(child.spec.env),
    });
    child.process = proc;
    child.startedMs = this.now();
    proc.on('message', (message: unknown) => {
      if ((message as { ferry?: unknown } | null)?.ferry === SIDE_READY_MESSAGE.ferry) this.emit('ready', child.spec.name);
    });
    this.log.info({ child: child.spec.name, pid: proc.pid }, 'child started');
    proc.on('exit', (code, signal) => {
      if (child.process === proc) child.process = null;
      if (this.stopping) return;
      if (code !== null && this.fatalExitCodes.includes(code)) {
        this.log.error({ child: child.spec.name, code }, 'child exited with a status a restart cannot fix; not restarting');
        this.emit('fatal', { child: child.spec.name, code });
        return;
      }
      const uptimeMs = this.now() - child.startedMs;
      child.quickDeaths = uptimeMs < RESTART_POLICY.quickDeathMs ? child.quickDeaths + 1 : 0;
      const delayMs = restartDelayMs(child.quickDeaths);
      this.log.warn({ child: child.spec.name, code, signal, uptimeMs, quickDeaths: child.quickDeaths, restartInMs: delayMs }, 'child exited; restarting');
      this.emit('restart', { child: child.spec.name, uptimeMs, quickDeaths: child.quickDeaths, delayMs });
      child.cancel = this.schedule(() => this.launch(child), delayMs);
    });
  }

  private async terminate(child: Running): Promise<void> {
    child.cancel?.();
    child.cancel = null;
    const proc = child.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(killer);
  }
}
