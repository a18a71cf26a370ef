// Keeps the gateway's processes running: starts each child, restarts one that dies
// with capped exponential backoff, and stops them all on SIGTERM. The children share
// nothing but the channel socket; the supervisor holds no secrets beyond what it
// passes on and never touches a device or the payment server itself.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../common/logger.js';
import { backoffDelayMs } from '../common/backoff.js';

// A child that stayed up this long is taken as healthy: its next crash restarts fast.
const HEALTHY_AFTER_MS = 30_000;
const RESTART_DELAY_MS_BASE = 250;
const RESTART_DELAY_MS_MAX = 10_000;
// How long a child gets to finish its writes after SIGTERM before it is killed.
const STOP_GRACE_MS = 10_000;

export interface ChildSpec {
  name: string;
  script: string; // absolute path of a Node.js entry file
  args: string[];
  env?: Record<string, string>;
}

interface Running {
  spec: ChildSpec;
  process: ChildProcess | null;
  startedMs: number;
  failures: number;
  timer: NodeJS.Timeout | null;
}

export class Supervisor {
  private readonly children: Running[];
  private readonly log: Logger;
  private stopping = false;

  constructor(specs: ChildSpec[], log: Logger) {
    this.children = specs.map((spec) => ({ spec, process: null, startedMs: 0, failures: 0, timer: null }));
    this.log = log;
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
    child.timer = null;
    if (this.stopping) return;
    const proc = spawn(process.execPath, [child.spec.script, ...child.spec.args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...child.spec.env },
    });
    child.process = proc;
    child.startedMs = Date.now();
    this.log.info({ child: child.spec.name, pid: proc.pid }, 'child started');
    proc.on('exit', (code, signal) => {
      if (child.process === proc) child.process = null;
      if (this.stopping) return;
      if (Date.now() - child.startedMs > HEALTHY_AFTER_MS) child.failures = 0;
      const delayMs = Math.max(RESTART_DELAY_MS_BASE, backoffDelayMs(child.failures, { baseMs: RESTART_DELAY_MS_BASE, maxMs: RESTART_DELAY_MS_MAX }));
      child.failures += 1;
      this.log.warn({ child: child.spec.name, code, signal, restartInMs: delayMs }, 'child exited; restarting');
      child.timer = setTimeout(() => this.launch(child), delayMs);
    });
  }

  private async terminate(child: Running): Promise<void> {
    if (child.timer) clearTimeout(child.timer);
    const proc = child.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(killer);
  }
}
