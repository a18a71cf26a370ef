// What `ferry query` and `ferry reconcile` share: finding the management API and its
// token (command line first, then gateway.yaml under --rules), and calling it.
import fs from 'node:fs';
import path from 'node:path';
import { loadGatewayConfig } from '../rules/load.js';

// One answer of the management API; a query page or a day's report is far below this.
export const MANAGEMENT_ANSWER_BYTES_MAX = 256 * 1024 * 1024;
export const MANAGEMENT_CALL_TIMEOUT_MS = 180_000;

export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  rules: { type: 'string', default: './rules' },
} as const;

export const CONNECTION_HELP = `  --url URL          the management API (default: gateway.yaml management.host:port)
  --token-file FILE  a file holding the bearer token (preferred: a token on the
                     command line shows in the process list)
  --token TOKEN      the bearer token (default: gateway.yaml management.token, or
                     management.adminToken with --unmask)
  --rules DIR        rule files to read the defaults from (default ./rules)`;

export class UsageError extends Error {}
// gateway.yaml has no management API to ask.
export class NoManagementError extends UsageError {}

export interface Connection {
  url: string;
  token: string;
}

export function connection(v: { url?: string; token?: string; 'token-file'?: string; rules?: string }, admin: boolean): Connection {
  if (v.token !== undefined && v['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both');
  let token = v.token ?? (v['token-file'] !== undefined ? fs.readFileSync(v['token-file'], 'utf8').trim() : undefined);
  let url = v.url;
  if (url === undefined || token === undefined) {
    const management = loadGatewayConfig(path.resolve(v.rules ?? './rules')).management;
    if (!management) throw new NoManagementError('gateway.yaml has no management section: give --url and --token-file');
    const host = management.host === '0.0.0.0' ? '127.0.0.1' : management.host.includes(':') ? `[${management.host}]` : management.host;
    url ??= `http://${host}:${management.port}`;
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
    throw new ApiError(0, 'UNREACHABLE', `cannot reach the management API at ${c.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message} (is the gateway running?)`);
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
