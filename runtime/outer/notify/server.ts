// The endpoint for the payment server's signed notifications (POST /v1/notifications).
// Exposed on the payment network, so every request is treated as hostile until it has
// passed, in order: connection limits, time limits, size, signature and timestamp,
// replay, shape, dedupe, amount. Only then is it forwarded to the inner side, and the
// answer waits for the inner side's verdict: 200 accepted (or a duplicate of what was
// accepted), 409 another content under an accepted id, 400 refused, 503 "retry later".
// Every refusal made here goes to the inner side's audit chain, counted (refusals.ts).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { assert, httpStatus, type CodeOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { signedParts, verifySignature, type SignatureFailure } from '../../common/signature.js';
import { checkRecord, ID_PATTERN, RecordError, type NotificationRecord, type NotifyRefusalReason } from '../../channel/records.js';
import { ExpiringSet, RecentMap } from './bounded.js';
import type { NotificationForwarder, Verdict } from './forwarder.js';
import { NOTIFY_LIMITS, type NotifyLimits } from './limits.js';
import type { Refusal } from './refusals.js';
import { limitPerAddress } from '../../common/per-address-limit.js';
import { listenOn } from '../../common/listen.js';

export const NOTIFY_PATH = '/v1/notifications';
// A notification is about 150 bytes.
export const NOTIFICATION_BYTES_MAX = 4 * 1024;
// Signatures seen within the tolerance window; at 300 s this covers ~300 notifications
// a second, far above a hospital's rate.
export const REPLAY_CACHE_MAX = 100_000;
// Notification ids already accepted, answered again without reaching the inner side.
export const ACCEPTED_NOTIFY_IDS_MAX = 50_000;

const SIGNATURE_REASONS: Record<SignatureFailure, NotifyRefusalReason> = {
  MISSING: 'SIGNATURE_MISSING',
  MALFORMED: 'SIGNATURE_MALFORMED',
  STALE: 'STALE',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
};

export interface NotifyServerOptions {
  host: string;
  port: number;
  secret: string;
  toleranceSec: number;
  log: Logger;
  forwarder: NotificationForwarder;
  amountOf: (orderId: string) => number | undefined; // amount of an order this process has seen
  onAccepted: (notification: NotificationRecord) => void;
  refused: (refusal: Refusal) => void; // counted, logged and audited by the caller
  limits?: Partial<NotifyLimits>; // tests shorten the timeouts
  now?: () => number;
}

export interface NotifyServer {
  url: string;
  close(): Promise<void>;
}

type Answer = { status: number; body: Record<string, unknown> };

export async function startNotifyServer(opts: NotifyServerOptions): Promise<NotifyServer> {
  const limits: NotifyLimits = { ...NOTIFY_LIMITS, ...opts.limits };
  // Node refuses a header deadline past the request deadline.
  assert(limits.headersTimeoutMs <= limits.requestTimeoutMs, 'the headers deadline is within the request deadline');
  const endpoint = new NotifyEndpoint(opts);
  const inRequest = new WeakSet<Socket>(); // sockets whose request the endpoint is reading or answering
  // These socket deadlines stay on real time, not the side's clock: Node enforces them
  // itself, and a slow client is slow in real time however fast a test runs.
  const server = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  }, (req, res) => {
    inRequest.add(req.socket);
    endpoint.handle(req).finally(() => inRequest.delete(req.socket)).then(
      (answer) => {
        if (answer) reply(res, answer);
      },
      (err: unknown) => {
        opts.log.error({ err }, 'notification handling failed');
        reply(res, answer('INTERNAL'));
      },
    );
  });
  server.timeout = limits.idleSocketMs;
  server.maxConnections = limits.connectionsMax;
  limitPerAddress(server, limits.connectionsPerAddressMax, (remote) => opts.refused({ reason: 'CONNECTIONS', remote }));
  server.on('drop', (data?: { remoteAddress?: string }) => opts.refused({ reason: 'CONNECTIONS', remote: data?.remoteAddress ?? 'unknown' }));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, inRequest.has(socket), opts));
  await listenOn(server, { host: opts.host, port: opts.port }, 'payment notification endpoint');
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}${NOTIFY_PATH}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

// Node's own answer to a broken or overdue request, with the refusal told. A client that
// hangs up is not refused: it went away on its own, and hosts on the payment network may
// do so at will, so it costs one debug line (the endpoint writes it when it was reading
// that request's body).
const HUNG_UP = new Set(['ECONNRESET', 'HPE_INVALID_EOF_STATE']);

function onClientError(err: NodeJS.ErrnoException, socket: Socket, inRequest: boolean, opts: NotifyServerOptions): void {
  const remote = socket.remoteAddress ?? 'unknown';
  if (HUNG_UP.has(err.code ?? '') || !socket.writable) {
    if (!inRequest) opts.log.debug({ remote, code: err.code }, 'notification client hung up');
    socket.destroy();
    return;
  }
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  opts.refused({ reason: timeout ? 'TIMEOUT' : 'BAD_HTTP', remote });
  socket.write(timeout ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  socket.destroy();
}

class NotifyEndpoint {
  private readonly replays: ExpiringSet = new ExpiringSet(REPLAY_CACHE_MAX);
  // Content accepted under each notification id, as a fingerprint.
  private readonly accepted = new RecentMap<string>(ACCEPTED_NOTIFY_IDS_MAX);
  private readonly inProgress = new Map<string, { fingerprint: string; verdict: Promise<Verdict> }>();
  private readonly now: () => number;

  constructor(private readonly opts: NotifyServerOptions) {
    this.now = opts.now ?? Date.now;
  }

  // Undefined when the client went away before its request was in: nobody to answer.
  async handle(req: http.IncomingMessage): Promise<Answer | undefined> {
    const remote = req.socket.remoteAddress ?? 'unknown';
    const path = req.url ?? '/';
    if (path !== NOTIFY_PATH) return this.refuse('NOT_FOUND', { reason: 'NOT_FOUND', remote });
    if (req.method !== 'POST') return this.refuse('METHOD', { reason: 'METHOD', remote });
    const read = await readBody(req);
    if (read.kind === 'aborted') {
      this.opts.log.debug({ remote }, 'notification client hung up, or was cut off, before its body was in');
      return undefined;
    }
    if (read.kind === 'too-large') return this.refuse('TOO_LARGE', { reason: 'TOO_LARGE', remote });
    const body = read.text;
    const parts = signedParts(req.headers, 'POST', path, body);
    const { signature, timestamp } = parts;
    const now = this.now();
    const verdict = verifySignature(this.opts.secret, parts, this.opts.toleranceSec, Math.floor(now / 1000));
    if (!verdict.ok) return this.refuse('SIGNATURE', { reason: SIGNATURE_REASONS[verdict.reason], remote, ...orderIdOf(body) });
    // Verified, so both headers are well formed here.
    if (this.replays.has(signature!, now)) return this.refuse('REPLAYED', { reason: 'REPLAYED', remote, ...orderIdOf(body) });
    this.replays.add(signature!, (Number(timestamp) + this.opts.toleranceSec + 1) * 1000, now);
    const notification = parseNotification(body);
    if (notification === undefined) return this.refuse('INVALID', { reason: 'INVALID', remote, ...orderIdOf(body) });
    const result = await this.deliver(notification, remote);
    // Nothing was recorded: the payment server may send this very request again.
    if (result.status === 503) this.replays.delete(signature!);
    return result;
  }

  private async deliver(n: NotificationRecord, remote: string): Promise<Answer> {
    const fingerprint = fingerprintOf(n);
    const { orderId } = n;
    const before = this.accepted.get(n.notifyId);
    if (before === fingerprint) return { status: 200, body: { ok: true, duplicate: true } };
    if (before !== undefined) return this.refuse('CONFLICT', { reason: 'CONFLICT', remote, orderId });
    const known = this.opts.amountOf(orderId);
    if (known !== undefined && known !== n.amount) return this.refuse('AMOUNT_MISMATCH', { reason: 'AMOUNT_MISMATCH', remote, orderId });
    // A duplicate arriving while the first is with the inner side shares its verdict; other
    // content under that id waits for the first to be decided (503: asked again later).
    let pending = this.inProgress.get(n.notifyId);
    if (pending && pending.fingerprint !== fingerprint) return answer('UNAVAILABLE');
    if (!pending) {
      pending = { fingerprint, verdict: this.opts.forwarder.forward(n).finally(() => this.inProgress.delete(n.notifyId)) };
      this.inProgress.set(n.notifyId, pending);
    }
    const verdict = await pending.verdict;
    if (verdict.kind === 'accepted' || verdict.kind === 'duplicate') {
      if (this.accepted.get(n.notifyId) === undefined) this.opts.onAccepted(n);
      this.accepted.set(n.notifyId, fingerprint);
      return { status: 200, body: verdict.kind === 'duplicate' ? { ok: true, duplicate: true } : { ok: true } };
    }
    // The inner side audited these itself: logged here, not reported again.
    if (verdict.kind === 'conflict') return this.refuse('CONFLICT', { reason: 'CONFLICT', remote, orderId, audited: true });
    if (verdict.kind === 'refused') return this.refuse('REFUSED', { reason: 'REFUSED', remote, orderId, audited: true });
    return answer('UNAVAILABLE');
  }

  private refuse(error: CodeOf<'notify'>, refusal: Refusal): Answer {
    this.opts.refused(refusal);
    return answer(error);
  }
}

// What a notification says, for telling a duplicate from another content under its id.
function fingerprintOf(n: NotificationRecord): string {
  return JSON.stringify([n.orderId, n.status, n.amount, n.currency]);
}

const ID = new RegExp(ID_PATTERN);

// The order id a refused body names, when it names one of the form an id has: the one
// thing of a refused body that the audit keeps (the channel takes nothing else of it).
function orderIdOf(body: string): { orderId?: string } {
  try {
    const value = JSON.parse(body) as { orderId?: unknown } | null;
    const orderId = typeof value === 'object' && value !== null ? value.orderId : undefined;
    return typeof orderId === 'string' && ID.test(orderId) ? { orderId } : {};
  } catch {
    return {};
  }
}

function parseNotification(body: string): NotificationRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || 'k' in value) return undefined;
  try {
    return checkRecord({ ...value, k: 'notification' }, 'inner') as NotificationRecord;
  } catch (err) {
    if (err instanceof RecordError) return undefined;
    throw err;
  }
}

type Body = { kind: 'body'; text: string } | { kind: 'too-large' } | { kind: 'aborted' };

// Never rejects: a client that hangs up mid-body is an ordinary event out there.
function readBody(req: http.IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > NOTIFICATION_BYTES_MAX) {
        req.removeAllListeners('data');
        req.resume();
        resolve({ kind: 'too-large' });
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve({ kind: 'body', text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', () => resolve({ kind: 'aborted' }));
    req.on('close', () => resolve({ kind: 'aborted' })); // no effect once resolved
  });
}

// A refusal: the code and its status, from the catalogue (area `notify`).
function answer(error: CodeOf<'notify'>): Answer {
  return { status: httpStatus('notify', error), body: { error } };
}

function reply(res: http.ServerResponse, a: Answer): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(a.body);
  res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
