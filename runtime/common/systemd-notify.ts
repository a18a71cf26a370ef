// Tells systemd how a side is doing (sd_notify): READY=1 once it really serves, STATUS=
// lines for `systemctl status`, STOPPING=1 on the way out, and WATCHDOG=1 pings from the
// event loop, so that a hung loop stops the pings and systemd restarts the process.
// Nothing happens unless systemd set NOTIFY_SOCKET (a Type=notify unit).
//
// Node cannot send on a Unix datagram socket, and a native addon would break building
// the release for another architecture, so each message is handed to Debian's
// `systemd-notify`. That tool exits only after systemd has processed the message (it
// sends BARRIER=1 and waits), which is what lets systemd attribute a message from a
// short-lived helper to the unit; the unit needs NotifyAccess=all for the helper's pid.
import { spawn } from 'node:child_process';
import type { Clock, ClockTimer } from './clock.js';
import type { Logger } from './logger.js';

export const SYSTEMD_NOTIFY_LIMITS = Object.freeze({
  // A helper that has not finished by then is killed: systemd is gone or stuck, and the
  // next message must not queue behind it for ever.
  helperTimeoutMs: 5_000,
  // Messages waiting for the helper; past this, watchdog pings are dropped (never
  // READY/STOPPING), as a backlog of pings is worth nothing.
  queueMax: 16,
  // STATUS= text is one line for `systemctl status`.
  statusCharsMax: 200,
});

export interface SystemdNotifyOptions {
  env?: NodeJS.ProcessEnv; // NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID
  clock: Clock; // the side's clock: the watchdog pings run on its timers
  log: Logger;
  command?: string; // the helper, `systemd-notify` on PATH
}

export interface SystemdNotifier {
  readonly watchdogIntervalMs: number | null; // null: systemd asked for no watchdog
  ready(status: string): void;
  status(status: string): void;
  stopping(status?: string): void;
  // Stops the pings and waits (bounded) for the messages already handed over.
  close(): Promise<void>;
}

// null when the process does not run under a Type=notify unit.
export function systemdNotifier(opts: SystemdNotifyOptions): SystemdNotifier | null {
  const env = opts.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return null;
  return new HelperNotifier(opts, socket, watchdogInterval(env, opts.log));
}

// Half the watchdog period, as sd_watchdog_enabled(3) advises; none when WATCHDOG_PID
// names another process (the watchdog is meant for it).
export function watchdogInterval(env: NodeJS.ProcessEnv, log?: Logger): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return null;
  const n = Number(usec);
  if (!Number.isFinite(n) || n <= 0) {
    log?.warn({ WATCHDOG_USEC: usec }, 'WATCHDOG_USEC is not a positive number: no watchdog pings');
    return null;
  }
  return Math.max(1, Math.floor(n / 2000));
}

class HelperNotifier implements SystemdNotifier {
  private readonly queue: { fields: string[]; ping: boolean }[] = [];
  private sending: Promise<void> | null = null;
  private timer: ClockTimer | undefined;
  private warned = false;
  private closed = false;

  constructor(private readonly opts: SystemdNotifyOptions, private readonly socket: string, readonly watchdogIntervalMs: number | null) {
    if (watchdogIntervalMs !== null) {
      // First ping at once: systemd's watchdog runs from the process's start.
      this.push(['WATCHDOG=1'], true);
      this.timer = opts.clock.setInterval(() => this.push(['WATCHDOG=1'], true), watchdogIntervalMs);
      this.timer.unref();
    }
  }

  ready(status: string): void {
    this.push(['READY=1', statusField(status)], false);
  }

  status(status: string): void {
    this.push([statusField(status)], false);
  }

  stopping(status = 'stopping'): void {
    this.push(['STOPPING=1', statusField(status)], false);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.opts.clock.clearInterval(this.timer);
    while (this.sending) await this.sending;
  }

  private push(fields: string[], ping: boolean): void {
    if (ping && (this.closed || this.queue.length >= SYSTEMD_NOTIFY_LIMITS.queueMax || this.queue.some((m) => m.ping))) return;
    this.queue.push({ fields, ping });
    if (!this.sending) this.sending = this.drain();
  }

  // One helper at a time, so that systemd sees the messages in the order they were sent.
  private async drain(): Promise<void> {
    while (this.queue.length > 0) await this.send(this.queue.shift()!.fields);
    this.sending = null;
  }

  private send(fields: string[]): Promise<void> {
    return new Promise((resolve) => {
      const command = this.opts.command ?? 'systemd-notify';
      let stderr = '';
      const child = spawn(command, fields, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NOTIFY_SOCKET: this.socket },
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), SYSTEMD_NOTIFY_LIMITS.helperTimeoutMs);
      child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 1000) stderr += c.toString(); });
      const done = (problem: string | null) => {
        clearTimeout(timer);
        if (problem && !this.warned) {
          // Once: a missing helper under Type=notify means the unit never gets READY=1,
          // and this line in the journal says why.
          this.warned = true;
          this.opts.log.error({ command, problem: problem.slice(0, 300) }, 'cannot tell systemd how this side is doing (systemd-notify failed)');
        }
        resolve();
      };
      child.once('error', (err) => done(err.message));
      child.once('close', (code, signal) => done(code === 0 ? null : `exit ${code ?? signal}: ${stderr.trim()}`));
    });
  }
}

function statusField(status: string): string {
  return `STATUS=${status.replace(/[\r\n]+/g, ' ').slice(0, SYSTEMD_NOTIFY_LIMITS.statusCharsMax)}`;
}
