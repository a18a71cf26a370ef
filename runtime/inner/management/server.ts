// The management API: read-only HTTP on the management address (loopback by default),
// served by the inner process because it holds the store's lock. Every request carries
// a bearer token from gateway.yaml `management`. Routes:
//   GET  /v1/query/{kind}?date&patient&order&limit&cursor&unmask   read token (unmask: admin)
//   POST /v1/reconcile?date=YYYY-MM-DD                              read token
//   POST /v1/retention/run                                          admin token
//   GET  /v1/audit/verify                                           read token
// Nothing here writes to the store except the audit entries of what was asked, and the
// two jobs it starts (reconciliation, retention), which write only what they always do.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import type { ManagementConfig } from '../../rules/types.js';
import type { Store } from '../store/store.js';
import { ReconcileError, type ReconcileErrorCode } from '../reconcile/errors.js';
import type { Reconciler } from '../reconcile/reconcile.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import type { Retention } from '../retention/retention.js';
import { TokenCheck, type Access } from './auth.js';
import { QUERY_KINDS, type QueryKindName } from './columns.js';
import type { QueryFilters } from './kinds.js';
import { QUERY_PAGE_ITEMS_DEFAULT, QUERY_PAGE_ITEMS_MAX, QUERY_PARAMS, QueryInputError, queryFiltersOf, queryPage } from './query.js';

// Operators and scripts, not the public: a few connections, short waits.
export const MANAGEMENT_CONNECTIONS_MAX = 16;
export const MANAGEMENT_HEADERS_TIMEOUT_MS = 10_000;
// A reconciliation waits for the statement (STATEMENT_WAIT_MS) and then matches it.
export const MANAGEMENT_REQUEST_TIMEOUT_MS = 120_000;

const RECONCILE_STATUS: Record<ReconcileErrorCode, number> = {
  BAD_DATE: 400, BUSY: 409, OUTER_DOWN: 503, TIMEOUT: 504, FETCH_FAILED: 502, TOO_LARGE: 500,
};

export interface ManagementOptions {
  config: ManagementConfig;
  store: Store;
  day: HospitalDay; // what a `date` parameter means
  reconciler: Reconciler;
  retention: Retention;
  log: Logger;
}

export interface RunningManagement {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function startManagement(opts: ManagementOptions): Promise<RunningManagement> {
  const tokens = new TokenCheck(opts.config);
  const server = http.createServer({ headersTimeout: MANAGEMENT_HEADERS_TIMEOUT_MS, requestTimeout: MANAGEMENT_REQUEST_TIMEOUT_MS }, (req, res) => {
    void handle(opts, tokens, req).then(
      (body) => send(res, 200, body),
      (err: unknown) => fail(opts.log, res, err),
    );
  });
  server.maxConnections = MANAGEMENT_CONNECTIONS_MAX;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.config.port, opts.config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.config.host.includes(':') ? `[${opts.config.host}]` : opts.config.host;
  const url = `http://${host}:${port}`;
  opts.log.info({ url }, 'management API listening');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(opts: ManagementOptions, tokens: TokenCheck, req: http.IncomingMessage): Promise<unknown> {
  req.resume(); // no route takes a body
  const access = tokens.check(req.headers.authorization);
  if (!access) throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required');
  const url = new URL(req.url ?? '/', 'http://management');
  const query = /^\/v1\/query\/([a-z]+)$/.exec(url.pathname);
  if (query) {
    allow(req, 'GET');
    return runQuery(opts, access, query[1]!, url.searchParams);
  }
  if (url.pathname === '/v1/reconcile') {
    allow(req, 'POST');
    return runReconcile(opts, url.searchParams);
  }
  if (url.pathname === '/v1/audit/verify') {
    allow(req, 'GET');
    return opts.store.verifyAudit();
  }
  if (url.pathname === '/v1/retention/run') {
    allow(req, 'POST');
    if (access !== 'admin') throw new HttpError(403, 'FORBIDDEN', 'running retention needs the admin token');
    return opts.retention.run();
  }
  throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
}

function allow(req: http.IncomingMessage, method: string): void {
  if (req.method !== method) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${method}`);
}

async function runQuery(opts: ManagementOptions, access: Access, kindName: string, params: URLSearchParams): Promise<unknown> {
  if (!(QUERY_KINDS as readonly string[]).includes(kindName)) throw new HttpError(404, 'NOT_FOUND', `no query kind ${kindName}; one of ${QUERY_KINDS.join(', ')}`);
  const kind = kindName as QueryKindName;
  for (const name of params.keys()) if (!QUERY_PARAMS.has(name)) throw new HttpError(400, 'BAD_PARAM', `unknown parameter ${name}`);
  let filters: QueryFilters;
  try {
    filters = queryFiltersOf(params);
  } catch (err) {
    if (err instanceof QueryInputError) throw new HttpError(400, 'BAD_PARAM', err.message);
    throw err;
  }
  const unmask = params.get('unmask') === '1' || params.get('unmask') === 'true';
  if (unmask && access !== 'admin') throw new HttpError(403, 'FORBIDDEN', 'unmasking needs the admin token');
  const limit = params.has('limit') ? Number(params.get('limit')) : QUERY_PAGE_ITEMS_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > QUERY_PAGE_ITEMS_MAX) throw new HttpError(400, 'BAD_PARAM', `limit is 1..${QUERY_PAGE_ITEMS_MAX}`);
  const cursor = params.get('cursor') ?? undefined;
  try {
    const page = await queryPage(opts.store, opts.day, { kind, filters, limit, unmask, ...(cursor !== undefined ? { cursor } : {}) });
    // Who looked at which patient's data, unmasked, is itself worth keeping.
    if (unmask && cursor === undefined) {
      await opts.store.audit({ kind: 'management.unmasked_query', queryKind: kind, ...(filters.date ? { date: filters.date } : {}), ...(filters.order ? { orderId: filters.order } : {}), ...(filters.patient ? { patientId: filters.patient } : {}) });
    }
    return page;
  } catch (err) {
    if (err instanceof QueryInputError) throw new HttpError(400, 'BAD_PARAM', err.message);
    throw err;
  }
}

async function runReconcile(opts: ManagementOptions, params: URLSearchParams): Promise<unknown> {
  const date = params.get('date');
  if (date === null) throw new HttpError(400, 'BAD_PARAM', 'date=YYYY-MM-DD is required');
  try {
    return await opts.reconciler.run(date);
  } catch (err) {
    if (err instanceof ReconcileError) throw new HttpError(RECONCILE_STATUS[err.code], err.code, err.message);
    throw err;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function fail(log: Logger, res: http.ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    return send(res, err.status, { error: err.code, message: err.message }, err.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  }
  log.error({ err: (err as Error).stack }, 'management request failed');
  send(res, 500, { error: 'INTERNAL', message: 'internal error; see the gateway log' });
}
