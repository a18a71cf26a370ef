// The management API: read-only HTTP on the management address (loopback by default),
// served by the inner process because it holds the store's lock. Every request carries
// a bearer token from gateway.yaml `management`. Routes:
//   GET  /v1/query/{kind}?date&patient&order&limit&cursor&unmask   read token (unmask: admin)
//   POST /v1/reconcile?date=YYYY-MM-DD                              read token
//   POST /v1/retention/run                                          admin token
//   GET  /v1/audit/verify                                           read token
//   GET  /v1/backup                                                 admin token (backup-route.ts)
//   POST /v1/refunds/{registrationId|refundId}/retry                admin token
//   GET  /v1/devices, POST /v1/rules/reload                         devices.ts
//   GET  /metrics (read token), /healthz, /readyz[/inner|/outer]     monitoring.ts
//   GET  /, /console, /v1/console (read token)                     console/routes.ts, through `routes`
// Nothing here writes to the store except the audit entries of what was asked (an
// unmasked query, a backup), the two jobs it starts (reconciliation, retention), which
// write only what they always do, and an operator's retry of a declined refund, which
// the payments part makes (audited).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import type { ManagementConfig } from '../../rules/types.js';
import type { Store } from '../store/store.js';
import { httpStatus, type CodeOf } from '../../common/errors.js';
import { ReconcileError } from '../reconcile/errors.js';
import type { Reconciler } from '../reconcile/reconcile.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import type { Retention } from '../retention/retention.js';
import { RefundRetryRefused } from '../payments/refunds.js';
import { TokenCheck, type Access } from './auth.js';
import { QUERY_KINDS, type QueryKindName } from './columns.js';
import type { QueryFilters } from './kinds.js';
import { QUERY_PAGE_ITEMS_DEFAULT, QUERY_PAGE_ITEMS_MAX, QUERY_PARAMS, QueryInputError, queryFiltersOf, queryPage } from './query.js';
import { limitPerAddress } from '../../common/per-address-limit.js';
import { listenOn } from '../../common/listen.js';
import { deviceRoute, RulesReloadRefused, type DeviceRoutesSource } from './devices.js';
import type { ManagementRoutes } from './monitoring.js';
import { BACKUP_ROUTE, BackupBusy, Backups, StreamedAnswer } from './backup-route.js';

// How many connections the API takes and how long each may sit. Its clients are operators
// and scripts, but a forgotten keep-alive pool or a port scanner must not lock them out:
// idle sockets are closed soon, and one address cannot take the whole server.
export const MANAGEMENT_LIMITS = Object.freeze({
  // All connections at once; the kernel's backlog holds the next ones.
  connectionsMax: 256,
  // Connections from one remote address; more are destroyed as they arrive.
  connectionsPerAddressMax: 32,
  // From the connection (or the previous response) to the end of the request's headers.
  // A socket that never sends a request is closed after this, with a 408.
  headersTimeoutMs: 10_000,
  // A whole request and its answer: a reconciliation waits for the statement
  // (STATEMENT_WAIT_MS, 60 s) and then matches it.
  requestTimeoutMs: 120_000,
  // How often Node checks the two timeouts above (its default, 30 s, would stretch them).
  timeoutCheckIntervalMs: 1_000,
  // A kept-alive socket with no next request is closed after this.
  keepAliveTimeoutMs: 5_000,
  // Backstop: a socket with no traffic either way for this long is destroyed. Longer than
  // requestTimeoutMs, so that a slow reconciliation is answered first.
  socketIdleTimeoutMs: 130_000,
  // At most one log line per this interval about refused connections; it carries the count.
  refusalLogIntervalMs: 60_000,
});
export type ManagementLimits = { readonly [K in keyof typeof MANAGEMENT_LIMITS]: number };
type RefusedBy = 'connectionsMax' | 'connectionsPerAddressMax';

export interface ManagementOptions {
  config: ManagementConfig;
  store: Store;
  day: HospitalDay; // what a `date` parameter means
  reconciler: Reconciler;
  retention: Retention;
  // Retries a declined refund; refuses with RefundRetryRefused.
  retryRefund?: (id: string) => Promise<unknown>;
  devices?: DeviceRoutesSource;
  log: Logger;
  // Tests narrow these; the gateway runs with MANAGEMENT_LIMITS.
  limits?: Partial<ManagementLimits>;
  now?: () => number;
  routes?: ManagementRoutes; // metrics and health, answered before the JSON API
}

export interface RunningManagement {
  url: string;
  close(): Promise<void>;
}

// An answer other than 200, with the code's HTTP status from the catalogue.
class HttpError extends Error {
  constructor(readonly code: string, readonly status: number, message: string) {
    super(message);
  }
}

function apiError(code: CodeOf<'management'>, message: string): HttpError {
  return new HttpError(code, httpStatus('management', code), message);
}

export async function startManagement(opts: ManagementOptions): Promise<RunningManagement> {
  const tokens = new TokenCheck(opts.config);
  const backups = new Backups(opts.store, opts.log.child({ job: 'backup' }), opts.now ?? Date.now);
  const limits: ManagementLimits = { ...MANAGEMENT_LIMITS, ...opts.limits };
  // Both timeouts set: given one alone, Node derives the other (headersTimeout defaults to
  // min(60 s, requestTimeout)), and it refuses a headersTimeout above requestTimeout.
  const server = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  }, (req, res) => {
    const other = opts.routes?.(req, tokens.check(req.headers.authorization));
    if (other) return void other.then((a) => res.writeHead(a.status, { ...a.headers, 'content-length': Buffer.byteLength(a.body) }).end(req.method === 'HEAD' ? undefined : a.body));
    void handle(opts, tokens, req, backups).then(
      (body) => (body instanceof StreamedAnswer ? body.sendTo(res) : send(res, 200, body)),
      (err: unknown) => fail(opts.log, res, err),
    );
  });
  server.maxConnections = limits.connectionsMax;
  server.timeout = limits.socketIdleTimeoutMs;
  const refusals = new RefusalLog(opts.log, limits, opts.now ?? Date.now);
  server.on('drop', (data?: { remoteAddress?: string }) => refusals.refused(data?.remoteAddress, 'connectionsMax'));
  limitPerAddress(server, limits.connectionsPerAddressMax, (address) => refusals.refused(address, 'connectionsPerAddressMax'));
  await listenOn(server, { host: opts.config.host, port: opts.config.port }, 'management API');
  const { port } = server.address() as AddressInfo;
  const host = opts.config.host.includes(':') ? `[${opts.config.host}]` : opts.config.host;
  const url = `http://${host}:${port}`;
  opts.log.info({ url }, 'management API listening');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      refusals.flush();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(opts: ManagementOptions, tokens: TokenCheck, req: http.IncomingMessage, backups: Backups): Promise<unknown> {
  req.resume(); // no route takes a body
  const access = tokens.check(req.headers.authorization);
  if (!access) throw apiError('UNAUTHORIZED', 'a valid bearer token is required');
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
  if (url.pathname === BACKUP_ROUTE) {
    allow(req, 'GET');
    if (access !== 'admin') throw apiError('FORBIDDEN', 'a backup needs the admin token');
    return backups.open().catch((err: unknown) => {
      throw err instanceof BackupBusy ? apiError('BACKUP_BUSY', err.message) : err;
    });
  }
  if (url.pathname === '/v1/retention/run') {
    allow(req, 'POST');
    if (access !== 'admin') throw apiError('FORBIDDEN', 'running retention needs the admin token');
    return opts.retention.run();
  }
  const retry = /^\/v1\/refunds\/([^/]+)\/retry$/.exec(url.pathname);
  if (retry && opts.retryRefund) {
    allow(req, 'POST');
    if (access !== 'admin') throw apiError('FORBIDDEN', 'retrying a refund needs the admin token');
    return runRefundRetry(opts.retryRefund, decodeURIComponent(retry[1]!));
  }
  const devices = deviceRoute(url.pathname);
  if (devices && opts.devices) {
    allow(req, devices.method);
    if (devices.access === 'admin' && access !== 'admin') throw apiError('FORBIDDEN', `${url.pathname} needs the admin token`);
    return devices.run(opts.devices).catch((err: unknown) => {
      throw err instanceof RulesReloadRefused ? apiError(err.code, err.message) : err;
    });
  }
  throw apiError('NOT_FOUND', `no route ${url.pathname}`);
}

async function runRefundRetry(retryRefund: (id: string) => Promise<unknown>, id: string): Promise<unknown> {
  if (!/^[RF][0-9A-Za-z-]{1,40}$/.test(id)) throw apiError('BAD_PARAM', 'give a registration id (R…) or a refund id (F…)');
  try {
    return await retryRefund(id);
  } catch (err) {
    if (err instanceof RefundRetryRefused) throw apiError(err.code, err.message);
    throw err;
  }
}

function allow(req: http.IncomingMessage, method: string): void {
  if (req.method !== method) throw apiError('METHOD_NOT_ALLOWED', `use ${method}`);
}

async function runQuery(opts: ManagementOptions, access: Access, kindName: string, params: URLSearchParams): Promise<unknown> {
  if (!(QUERY_KINDS as readonly string[]).includes(kindName)) throw apiError('NOT_FOUND', `no query kind ${kindName}; one of ${QUERY_KINDS.join(', ')}`);
  const kind = kindName as QueryKindName;
  for (const name of params.keys()) if (!QUERY_PARAMS.has(name)) throw apiError('BAD_PARAM', `unknown parameter ${name}`);
  let filters: QueryFilters;
  try {
    filters = queryFiltersOf(params);
  } catch (err) {
    if (err instanceof QueryInputError) throw apiError('BAD_PARAM', err.message);
    throw err;
  }
  const unmask = params.get('unmask') === '1' || params.get('unmask') === 'true';
  if (unmask && access !== 'admin') throw apiError('FORBIDDEN', 'unmasking needs the admin token');
  const limit = params.has('limit') ? Number(params.get('limit')) : QUERY_PAGE_ITEMS_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > QUERY_PAGE_ITEMS_MAX) throw apiError('BAD_PARAM', `limit is 1..${QUERY_PAGE_ITEMS_MAX}`);
  const cursor = params.get('cursor') ?? undefined;
  try {
    const page = await queryPage(opts.store, opts.day, { kind, filters, limit, unmask, ...(cursor !== undefined ? { cursor } : {}) });
    // Who looked at which patient's data, unmasked, is itself worth keeping.
    if (unmask && cursor === undefined) {
      await opts.store.audit({ kind: 'management.unmasked_query', queryKind: kind, ...(filters.date ? { date: filters.date } : {}), ...(filters.order ? { orderId: filters.order } : {}), ...(filters.patient ? { patientId: filters.patient } : {}) });
    }
    return page;
  } catch (err) {
    if (err instanceof QueryInputError) throw apiError('BAD_PARAM', err.message);
    throw err;
  }
}

async function runReconcile(opts: ManagementOptions, params: URLSearchParams): Promise<unknown> {
  const date = params.get('date');
  if (date === null) throw apiError('BAD_PARAM', 'date=YYYY-MM-DD is required');
  try {
    return await opts.reconciler.run(date);
  } catch (err) {
    if (err instanceof ReconcileError) throw new HttpError(err.code, httpStatus('reconcile', err.code), err.message);
    throw err;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function fail(log: Logger, res: http.ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    return send(res, err.status, { error: err.code, message: err.message }, err.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
  }
  log.error({ err: (err as Error).stack }, 'management request failed');
  const internal = apiError('INTERNAL', 'internal error; see the gateway log');
  send(res, internal.status, { error: internal.code, message: internal.message });
}

// Refused connections, counted, in at most one log line per refusalLogIntervalMs: a client
// that retries in a loop must not flood the log it is being reported in.
class RefusalLog {
  private readonly counts = new Map<string, { address: string; limit: RefusedBy; max: number; count: number }>();
  private lastLineAt = -Infinity;

  constructor(private readonly log: Logger, private readonly limits: ManagementLimits, private readonly now: () => number) {}

  refused(address: string | undefined, limit: RefusedBy): void {
    const key = `${limit} ${address ?? 'unknown'}`;
    const entry = this.counts.get(key) ?? { address: address ?? 'unknown', limit, max: this.limits[limit], count: 0 };
    entry.count += 1;
    this.counts.set(key, entry);
    if (this.now() - this.lastLineAt >= this.limits.refusalLogIntervalMs) this.flush();
  }

  flush(): void {
    if (this.counts.size === 0) return;
    const refused = [...this.counts.values()];
    this.counts.clear();
    this.lastLineAt = this.now();
    this.log.warn({ refused, total: refused.reduce((n, r) => n + r.count, 0) }, 'management connections refused: too many at once');
  }
}
