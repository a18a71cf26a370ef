// Is the kernel clock synchronised? Signatures to and from the payment server allow
// 300 s of drift, the hospital's day and every audit entry are dated by this clock, so
// a gateway that runs on an unsynchronised clock says so at start-up.
//
// The kernel's own answer is adjtimex's STA_UNSYNC bit, which Node cannot read and no
// /proc file shows. Two tools on Debian report it: `timedatectl` (systemd-timesyncd, or
// any NTP client that keeps the kernel's flag, chrony included) and `chronyc tracking`
// (chrony, where systemd is not running). When neither can tell, the answer is
// "unknown", never a guess.
import { execFile } from 'node:child_process';
import type { Logger } from './logger.js';

export type ClockState = 'synchronised' | 'unsynchronised' | 'unknown';

export interface ClockReading {
  state: ClockState;
  source: 'timedatectl' | 'chronyc' | 'none';
  detail?: string; // why it is unknown
}

export type ClockProbe = () => Promise<ClockReading>;

export interface CommandResult {
  ok: boolean; // ran and exited 0
  stdout: string;
  error?: string;
}

export type CommandRunner = (file: string, args: string[]) => Promise<CommandResult>;

// Both tools answer at once, or hang on a dead D-Bus or chronyd socket.
export const CLOCK_PROBE_TIMEOUT_MS = 3_000;
const DETAIL_CHARS_MAX = 300;

export function runCommand(file: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: CLOCK_PROBE_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      if (err) resolve({ ok: false, stdout: String(stdout), error: `${file}: ${(String(stderr).trim() || err.message).split('\n')[0]}` });
      else resolve({ ok: true, stdout: String(stdout) });
    });
  });
}

export function systemClockProbe(run: CommandRunner = runCommand): ClockProbe {
  return async () => {
    const errors: string[] = [];
    const timedatectl = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
    if (timedatectl.ok) {
      const value = timedatectl.stdout.trim();
      if (value === 'yes') return { state: 'synchronised', source: 'timedatectl' };
      if (value === 'no') return { state: 'unsynchronised', source: 'timedatectl' };
      errors.push(`timedatectl: unexpected answer "${value.slice(0, 40)}"`);
    } else if (timedatectl.error) {
      errors.push(timedatectl.error);
    }
    const chronyc = await run('chronyc', ['-n', 'tracking']);
    if (chronyc.ok) {
      const leap = /^Leap status\s*:\s*(.+)$/m.exec(chronyc.stdout)?.[1]?.trim();
      if (leap === 'Not synchronised') return { state: 'unsynchronised', source: 'chronyc' };
      if (leap !== undefined) return { state: 'synchronised', source: 'chronyc' };
      errors.push('chronyc: no leap status in its tracking report');
    } else if (chronyc.error) {
      errors.push(chronyc.error);
    }
    return { state: 'unknown', source: 'none', detail: errors.join('; ').slice(0, DETAIL_CHARS_MAX) };
  };
}

// Logs the reading: a warning when the clock is not synchronised, info otherwise.
export async function reportClockSync(log: Logger, probe: ClockProbe): Promise<ClockReading> {
  let reading: ClockReading;
  try {
    reading = await probe();
  } catch (err) {
    reading = { state: 'unknown', source: 'none', detail: (err as Error).message.slice(0, DETAIL_CHARS_MAX) };
  }
  const fields = { clock: reading.state, source: reading.source, ...(reading.detail ? { detail: reading.detail } : {}) };
  if (reading.state === 'unsynchronised') {
    log.warn(fields, 'the clock is not synchronised: signatures more than 300 s off are refused by the payment server, and days and audit times are dated by this clock; check NTP (docs/firewall.md, "Time")');
  } else if (reading.state === 'unknown') {
    log.info(fields, 'clock synchronisation unknown: neither timedatectl nor chronyc could tell');
  } else {
    log.info(fields, 'the clock is synchronised');
  }
  return reading;
}
