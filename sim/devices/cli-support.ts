// What the device simulator commands (`ferry sim kiosk`, `ferry sim billing-desk`)
// share: the connection options, and how answers are printed.
import fs from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { ConnectOptions } from '../../devices/client.js';
import { DeviceClientError, isErrorReply } from '../../devices/client.js';
import type { Reply } from '../../devices/protocol.js';
import { demoPassword } from '../demo-devices.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../runtime/cli/command.js';

export const DEFAULT_URL = 'mqtt://127.0.0.1:1883';
export const PASSWORD_ENV = 'FERRY_DEVICE_PASSWORD';

export const connectionHelp = (defaultDevice: string): string => `Connection options:
  --device ID         device id = MQTT client id = username (default ${defaultDevice})
  --password X        the device's password; defaults to $${PASSWORD_ENV}, then to the
                      demo password of a demo device (sim/demo-devices.ts)
  --url URL[,URL...]  broker (default ${DEFAULT_URL}; mqtts://host:8883 for TLS); the
                      addresses of an active/standby pair, comma-separated, are tried
                      in turn until one answers, and again on every reconnect
  --ca FILE           CA certificate to trust (TLS)
  --cert FILE         client certificate (TLS; may replace the password)
  --key FILE          client certificate's key
  --timeout-ms N      how long to wait for a connection or a reply (default 15000)
  --json              print machine-readable JSON instead of readable lines`;

export const CONNECTION_OPTIONS = {
  device: { type: 'string' },
  password: { type: 'string' },
  url: { type: 'string', default: DEFAULT_URL },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'timeout-ms': { type: 'string', default: '15000' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export class UsageError extends Error {}

export interface ConnectionValues {
  device?: string | undefined;
  password?: string | undefined;
  url?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  'timeout-ms'?: string | undefined;
}

export function connectOptions(values: ConnectionValues, defaultDevice: string): ConnectOptions {
  const id = values.device ?? defaultDevice;
  const url = parseGatewayUrls(values.url ?? DEFAULT_URL, '--url');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('give --cert and --key together');
  const password = values.password ?? process.env[PASSWORD_ENV] ?? demoPassword(id);
  if (password === undefined && values.cert === undefined) {
    throw new UsageError(`${id} is not a demo device: give --password (or $${PASSWORD_ENV}) or --cert/--key`);
  }
  const opts: ConnectOptions = { url, id, connectTimeoutMs: positiveInt(values['timeout-ms'] ?? '15000', '--timeout-ms') };
  if (password !== undefined) opts.password = password;
  if (values.ca !== undefined) opts.ca = readFile(values.ca, '--ca');
  if (values.cert !== undefined) opts.cert = readFile(values.cert, '--cert');
  if (values.key !== undefined) opts.key = readFile(values.key, '--key');
  return opts;
}

// One broker address, or several comma-separated (an active/standby pair, docs/ha.md).
export function parseGatewayUrls(text: string, name: string): string | string[] {
  const urls = text.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0) throw new UsageError(`${name} names no broker`);
  for (const u of urls) {
    if (!URL.canParse(u)) throw new UsageError(`${name}: not a URL: ${u}`);
    const { protocol, hostname } = new URL(u);
    if (protocol !== 'mqtt:' && protocol !== 'mqtts:') throw new UsageError(`${name}: ${u} is not an mqtt:// or mqtts:// URL`);
    if (hostname === '') throw new UsageError(`${name}: ${u} names no host`);
  }
  if (new Set(urls.map((u) => new URL(u).protocol)).size > 1) throw new UsageError(`${name}: give all the brokers as mqtt:// or all as mqtts://, not a mix`);
  return urls.length === 1 ? urls[0]! : urls;
}

export function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return n;
}

export function nonNegativeInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`);
  return n;
}

function readFile(path: string, name: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    throw new UsageError(`${name}: cannot read ${path}: ${(err as Error).message}`);
  }
}

// 12345 fen -> "123.45"
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export function describeError(reply: Reply<unknown>): string {
  if (!isErrorReply(reply)) return `unexpected ${reply.type} reply`;
  const { code, message, path } = reply.body;
  return `refused: ${code}: ${message}${path ? ` (at ${path})` : ''}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

// A failure that is not a usage error (a refused connection, a timeout): the message
// to print. A programmer's error (a failed assertion) is rethrown.
export function operatingError(err: unknown): string {
  if (err instanceof DeviceClientError) return `${err.code}: ${err.message}`;
  if (err instanceof Error && !err.message.startsWith('assertion failed')) return err.message;
  throw err;
}

// How one `ferry sim ...` command ends: a failure (exit 1), a wrong command line with
// the help after the message (exit 2), or the help asked for (exit 0).
export function commandOutput(name: string, help: string): { failure(message: string): number; usage(message: string): number; help(): number } {
  return {
    failure(message) {
      process.stderr.write(`ferry ${name}: ${message}\n`);
      return EXIT_FAILURE;
    },
    usage(message) {
      process.stderr.write(`ferry ${name}: ${message}\n\n${help}\n`);
      return EXIT_USAGE;
    },
    help() {
      process.stdout.write(`${help}\n`);
      return EXIT_OK;
    },
  };
}

export type CommandOutput = ReturnType<typeof commandOutput>;

// A device command's set-up: parse and check the command line, then connect. Returns
// the exit status instead when the help was asked for, the command line is wrong (2), or
// the device could not connect (1). A programmer's error is rethrown.
export async function prepared<T>(out: CommandOutput, prepare: () => Promise<T | 'help'>): Promise<T | number> {
  try {
    const ready = await prepare();
    return ready === 'help' ? out.help() : ready;
  } catch (err) {
    if (isUsageError(err)) return out.usage((err as Error).message);
    return out.failure(operatingError(err));
  }
}

// A wrong command line: ours (UsageError) or node:util parseArgs's.
export function isUsageError(err: unknown): boolean {
  return err instanceof UsageError || Boolean((err as { code?: string } | null)?.code?.startsWith('ERR_PARSE_ARGS'));
}
