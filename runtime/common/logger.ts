// Ferry's log lines, in the form their reader wants:
//   - a person at a terminal (stdout is a TTY): one human-readable line per event
//     (pino-pretty), with the local time and the level in words;
//   - the systemd journal (stdout is the stream JOURNAL_STREAM names): JSON lines, each
//     prefixed with its syslog priority `<N>`, which journald reads as the entry's
//     PRIORITY (SyslogLevelPrefix=yes, its default) and strips, so `journalctl -p warning`
//     and the colours work;
//   - anything else (a file, a pipe, a test): the same JSON lines without the prefix, so
//     that `| jq` reads them.
// JSON lines carry the level as a name ("level":"warn") and an ISO-8601 time.
import { fstatSync } from 'node:fs';
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

// Paths that never reach a log line: credentials, signing keys and anything that
// identifies a patient. Operators read logs; logs are not a patient record.
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password', 'secret', '*.secret', '*.*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'headers["x-ferry-signature"]',
  'authCode', '*.authCode', '*.*.authCode',
  'patientId', '*.patientId', '*.*.patientId',
  'phone', '*.phone', '*.*.phone', 'idCard', '*.idCard', '*.*.idCard',
  '*.patientName', 'body.symptoms', '*.body.symptoms',
];

// syslog priorities (RFC 5424) of pino's levels, as journald reads them.
export const JOURNAL_PRIORITY: Readonly<Record<string, number>> = Object.freeze({
  fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7,
});

export interface LogOutput {
  isTty: boolean; // human-readable lines
  journal: boolean; // JSON lines with a `<N>` priority prefix
}

// Where this process's stdout goes. The caller passes process.stdout.isTTY; JOURNAL_STREAM
// is "device:inode" of the journal's socket, inherited by children whose stdout may be
// elsewhere, so it counts only when it names stdout itself (as systemd.exec(5) advises).
export function logOutputOf(isTty: boolean | undefined, env: NodeJS.ProcessEnv = process.env, fd = 1): LogOutput {
  if (isTty) return { isTty: true, journal: false };
  const stream = env.JOURNAL_STREAM;
  if (!stream) return { isTty: false, journal: false };
  try {
    const st = fstatSync(fd);
    return { isTty: false, journal: stream === `${st.dev}:${st.ino}` };
  } catch {
    return { isTty: false, journal: false };
  }
}

// `dest` (tests) receives the lines; without it they go to stdout, in the form
// logOutputOf(process.stdout.isTTY) finds. `output` overrides that finding.
export function createLogger(name: string, level = process.env.FERRY_LOG_LEVEL ?? 'info', dest?: DestinationStream, output: Partial<LogOutput> = {}): Logger {
  const found = dest ? { isTty: false, journal: false } : logOutputOf(process.stdout.isTTY);
  const { isTty, journal } = { ...found, ...output };
  const options: LoggerOptions = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { proc: name, pid: process.pid },
  };
  const out: DestinationStream = dest ?? pino.destination({ dest: 1, sync: true });
  if (isTty) {
    const pretty = prettyFactory({ colorize: dest === undefined, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,proc', singleLine: true });
    return pino(options, { write: (line: string) => void out.write(pretty(line)) });
  }
  Object.assign(options, {
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(journal ? { hooks: { streamWrite: withPriority } } : {}),
  });
  return pino(options, out);
}

function withPriority(line: string): string {
  const label = /^\{"level":"([a-z]+)"/.exec(line)?.[1];
  return `<${JOURNAL_PRIORITY[label ?? ''] ?? JOURNAL_PRIORITY.info}>${line}`;
}
