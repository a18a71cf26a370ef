// The endpoint for the payment server's signed notifications (POST /v1/notifications).
// Exposed on the payment network, so every request is treated as hostile until it has
// passed, in order: size, signature and timestamp, replay, shape, dedupe, amount.
// Only then is it forwarded to the inner side, and the answer waits for the inner
// side's verdict: 200 accepted, 400 refused, 503 "retry later" (inner side away).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { signedParts, verifySignature } from '../../common/signature.js';
import { checkRecord, RecordError, type NotificationRecord } from '../../channel/records.js';
import { ExpiringSet, RecentSet } from './bounded.js';
import type { NotificationForwarder, Verdict } from './forwarder.js';

export const NOTIFY_PATH = '/v1/notifications';
// A notification is about 150 bytes.
export const NOTIFICATION_BYTES_MAX = 4 * 1024;
// Signatures seen within the tolerance window; at 300 s this covers ~300 notifications
// a second, far above a hospital's rate.
export const REPLAY_CACHE_MAX = 100_000;
// Notification ids already accepted, answered 200 again without reaching the inner side.
export const ACCEPTED_NOTIFY_IDS_MAX = 50_000;
// A client that trickles its request is cut off after this.
const REQUEST_TIMEOUT_MS = 10_000;

export interface NotifyServerOptions {
  host: string;
  port: number;
  secret: string;
  toleranceSec: number;
  log: Logger;
  forwarder: NotificationForwarder;
  amountOf: (orderId: string) => number | undefined; // amount of an order this process has seen
  onAccepted: (notification: NotificationRecord) => void;
}

export interface NotifyServer {
  url: string;
  close(): Promise<void>;
}

type Answer = { status: number; body: Record<string, unknown> };

export async function startNotifyServer(opts: NotifyServerOptions): Promise<NotifyServer> {
  const endpoint = new NotifyEndpoint(opts);
  const server = http.createServer((req, res) => {
    endpoint.handle(req).then(
      (answer) => reply(res, answer),
      (err: unknown) => {
        opts.log.error({ err }, 'notification handling failed');
        reply(res, { status: 500, body: { error: 'INTERNAL' } });
      },
    );
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
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

class NotifyEndpoint {
  private readonly replays: ExpiringSet = new ExpiringSet(REPLAY_CACHE_MAX);
  private readonly accepted = new RecentSet(ACCEPTED_NOTIFY_IDS_MAX);
  private readonly inProgress = new Map<string, Promise<Verdict>>();

  constructor(private readonly opts: NotifyServerOptions) {}

  async handle(req: http.IncomingMessage): Promise<Answer> {
    const path = req.url ?? '/';
    if (path !== NOTIFY_PATH) return answer(404, 'NOT_FOUND');
    if (req.method !== 'POST') return answer(405, 'METHOD');
    const body = await readBody(req);
    if (body === undefined) return answer(413, 'TOO_LARGE');
    const parts = signedParts(req.headers, 'POST', path, body);
    const { signature, timestamp } = parts;
    const verdict = verifySignature(this.opts.secret, parts, this.opts.toleranceSec);
    if (!verdict.ok) return this.refuse(401, 'SIGNATURE', { reason: verdict.reason });
    // Verified, so both headers are well formed here.
    const now = Date.now();
    if (this.replays.has(signature!, now)) return this.refuse(401, 'REPLAYED', {});
    this.replays.add(signature!, (Number(timestamp) + this.opts.toleranceSec + 1) * 1000, now);
    const notification = parseNotification(body);
    if (notification === undefined) return this.refuse(400, 'INVALID', {});
    const result = await this.deliver(notification);
    // Nothing was recorded: the payment server's retry of this very request (identical
    // within the same second) must not be mistaken for a replay.
    if (result.status === 503) this.replays.delete(signature!);
    return result;
  }

  private async deliver(n: NotificationRecord): Promise<Answer> {
    if (this.accepted.has(n.notifyId)) return { status: 200, body: { ok: true, duplicate: true } };
    const known = this.opts.amountOf(n.orderId);
    if (known !== undefined && known !== n.amount) return this.refuse(400, 'AMOUNT_MISMATCH', { orderId: n.orderId });
    // A duplicate arriving while the first is with the inner side shares its verdict.
    let pending = this.inProgress.get(n.notifyId);
    if (!pending) {
      pending = this.opts.forwarder.forward(n).finally(() => this.inProgress.delete(n.notifyId));
      this.inProgress.set(n.notifyId, pending);
    }
    const verdict = await pending;
    if (verdict.kind === 'accepted') {
      if (!this.accepted.has(n.notifyId)) this.opts.onAccepted(n);
      this.accepted.add(n.notifyId);
      return { status: 200, body: { ok: true } };
    }
    if (verdict.kind === 'refused') return this.refuse(400, 'REFUSED', { reason: verdict.reason, orderId: n.orderId });
    return answer(503, 'UNAVAILABLE');
  }

  private refuse(status: number, error: string, detail: Record<string, unknown>): Answer {
    this.opts.log.warn({ status, error, ...detail }, 'notification refused');
    return answer(status, error);
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

// Resolves undefined when the body is larger than a notification can be.
function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > NOTIFICATION_BYTES_MAX) {
        req.removeAllListeners('data');
        req.resume();
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(status: number, error: string): Answer {
  return { status, body: { error } };
}

function reply(res: http.ServerResponse, a: Answer): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(a.body);
  res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
