// What `ferry query` and `ferry reconcile` share: finding the management API and its
// token (command line first, then gateway.yaml under --rules), and calling it.
import fs from 'node:fs';
import path from 'node:path';
import { loadGatewayConfig } from '../rules/load.js';
import { managementConfig, managementUrl } from '../rules/management-address.js';
import { RulesError } from '../rules/types.js';
import { NETNS_DEFAULTS } from './commands/netns-setup.js';
import { DEFAULT_PATHS } from '../common/default-paths.js';

// One answer of the management API; a query page or a day's report is far below this.
export const MANAGEMENT_ANSWER_BYTES_MAX = 256 * 1024 * 1024;
export const MANAGEMENT_CALL_TIMEOUT_MS = 180_000;

export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  rules: { type: 'string', default: DEFAULT_PATHS.rules },
  'management-host': { type: 'string' },
  'management-port': { type: 'string' },
} as const;

export const CONNECTION_HELP = `  --url URL          the management API (default: gateway.yaml management.host:port)
  --token-file FILE  a file holding the bearer token (preferred: a token on the
                     command line shows in the process list)
  --token TOKEN      the bearer token (default: gateway.yaml management.token, or
                     management.adminToken with --unmask)
  --rules DIR        rule files to read the defaults from (default ${DEFAULT_PATHS.rules})
  --management-host ADDR, --management-port N
                     as given to \`ferry start\` (they override gateway.yaml there too)`;

export class UsageError extends Error {}
// gateway.yaml has no management API to ask.
export class NoManagementError extends UsageError {}

export interface Connection {
  url: string;
  token: string;
}

export interface ConnectionValues {
  url?: string;
  token?: string;
  'token-file'?: string;
  rules?: string;
  'management-host'?: string;
  'management-port'?: string;
}

export function connection(v: ConnectionValues, admin: boolean): Connection {
  if (v.token !== undefined && v['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both');
  if (v.url !== undefined && (v['management-host'] !== undefined || v['management-port'] !== undefined)) {
    throw new UsageError('give --url or --management-host/--management-port, not both');
  }
  let token = v.token ?? (v['token-file'] !== undefined ? fs.readFileSync(v['token-file'], 'utf8').trim() : undefined);
  let url = v.url;
  if (url === undefined || token === undefined) {
    let management;
    try {
      management = managementConfig(loadGatewayConfig(path.resolve(v.rules ?? DEFAULT_PATHS.rules)), v);
    } catch (err) {
      if (err instanceof RulesError) throw err;
      throw new UsageError((err as Error).message);
    }
    if (!management) throw new NoManagementError('gateway.yaml has no management section: give --url and --token-file');
    url ??= managementUrl(management);
    token ??= admin ? management.adminToken : management.token;
  }
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, not ${url}`);
  return { url: url.replace(/\/$/, ''), token };
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function callApi(c: Connection, method: 'GET' | 'POST', route: string, timeoutMs = MANAGEMENT_CALL_TIMEOUT_MS): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${c.url}${route}`, {
      method, headers: { authorization: `Bearer ${c.token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new ApiError(0, 'UNREACHABLE', `cannot reach the management API at ${c.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message} (${unreachableHint()})`);
  }
  const text = await res.text();
  if (text.length > MANAGEMENT_ANSWER_BYTES_MAX) throw new ApiError(res.status, 'ANSWER_TOO_LARGE', 'the answer is too large');
  let json: { error?: string; message?: string } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, json?.error ?? 'HTTP', `${res.status} ${json?.error ?? ''}: ${json?.message ?? text.slice(0, 200)}`);
  return json;
}

// On gateway hardware the inner side, and with it the management listener, lives in the
// medical network namespace: its 127.0.0.1 is not this shell's. Say so when this
// process runs outside that namespace.
function unreachableHint(): string {
  const medical = `/run/netns/${NETNS_DEFAULTS.medical}`;
  try {
    if (fs.statSync(medical).ino !== fs.statSync('/proc/self/ns/net').ino) {
      return `the inner side runs in the ${NETNS_DEFAULTS.medical} network namespace: run ip netns exec ${NETNS_DEFAULTS.medical} ferry ...`;
    }
  } catch { /* no such namespace here */ }
  return 'is the gateway running?';
}
