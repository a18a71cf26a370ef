// Signed HTTP(S) calls to the payment server. The client sorts every call into what
// the relay needs to decide on: an answer it can trust, a status query that found
// nothing, an outcome it cannot know (timeout, broken connection), a server error worth
// retrying, or a refusal. An answer about another order or another amount is not an
// outcome: it is reported as `invalid` and never crosses to the inner side.
import type https from 'node:https';
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as PoolType } from 'undici';
import { assert, errorEntry } from '../../common/errors.js';
import { signRequest } from '../../common/signature.js';
import type { OrderRecord, PaymentCallOperation, PaymentErrorKind, RefundRecord } from '../../channel/records.js';

// Told of every call: what it asked, how long it took (real time), and why it gave no
// usable answer, if it did not (runtime/outer/figures.ts counts them).
export type CallObserver = (operation: PaymentCallOperation, seconds: number, error: PaymentErrorKind | undefined) => void;

// Sockets kept open to the payment server: enough for a busy hospital's parallel
// payments, few enough that an outage does not pile up connections.
export const PAYMENT_SOCKETS_MAX = 32;
// A payment answer is a few hundred bytes; anything far larger is not one.
export const PAYMENT_ANSWER_BYTES_MAX = 64 * 1024;
// A day's statement: a few hundred bytes a line, STATEMENT_LINES_MAX lines at most.
export const STATEMENT_ANSWER_BYTES_MAX = 64 * 1024 * 1024;
const QR_CODE_CHARS_MAX = 256;
const REASON_CHARS_MAX = 256;

export interface PaymentClientOptions {
  url: string; // base URL of the payment server, e.g. https://pay.example:8443
  secret: string;
  timeoutMs: number; // per request
  tls?: https.AgentOptions; // ca, cert, key for mutual TLS toward a real server
}

export interface PaymentAnswer {
  orderId: string;
  status: 'succeeded' | 'failed' | 'pending';
  amount: number;
  qrCode?: string;
  reason?: string;
}

export type CallResult =
  | { kind: 'answer'; answer: PaymentAnswer }
  | { kind: 'not_found' } // status query: the server never saw the order
  | { kind: 'unknown'; reason: 'timeout' | 'network' } // the request may or may not have been processed
  | { kind: 'server_error'; status: number }
  | { kind: 'refused'; status: number; error: string } // a 4xx: the server did not process it
  | { kind: 'replayed' } // 401 REPLAYED: the server took this attempt for a copy of an earlier one
  | { kind: 'invalid'; reason: string }; // an answer that does not describe this order

// Only these fields cross to the payment server (docs/payment-server.openapi.yaml).
export function paymentBody(order: OrderRecord): Record<string, unknown> {
  const body: Record<string, unknown> = {
    orderId: order.orderId, amount: order.amount, currency: order.currency,
    method: order.method, description: order.description,
  };
  if (order.authCode !== undefined) body.authCode = order.authCode;
  return body;
}

// undici's Pool alone: its package index also loads fetch, WebSocket, the cache and the
// mock agent, 8.5 MiB of resident memory the outer side never uses (20.5 MiB for the
// index against 12.0 for the pool, each measured in a fresh process).
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof PoolType;

// The payment client talks to the server through undici's raw dispatch interface: one
// keep-alive pool, no streams, no AbortSignal per call (node:http's client machinery was
// most of the outer side's CPU per payment). No pipelining: the contract promises
// nothing about it, and a POST behind another on one connection would share its fate
// when the connection breaks.
export class PaymentClient {
  private readonly base: URL;
  private readonly pathPrefix: string;
  private readonly pool: PoolType;
  private readonly calls = new Set<Call>(); // in flight: close() ends them
  private closed = false;

  constructor(private readonly opts: PaymentClientOptions, private readonly observe: CallObserver = () => {}) {
    assert(opts.timeoutMs > 0, 'timeoutMs is positive');
    assert(opts.secret.length > 0, 'secret is not empty');
    this.base = new URL(opts.url);
    assert(this.base.protocol === 'http:' || this.base.protocol === 'https:', 'payment url is http(s)');
    this.pathPrefix = this.base.pathname.replace(/\/$/, '');
    this.pool = new Pool(this.base.origin, {
      connections: PAYMENT_SOCKETS_MAX,
      pipelining: 1,
      // The call's own deadline (timeoutMs, from when it is asked) ends it first; these
      // only keep undici's longer defaults from outliving it.
      headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs,
      ...(opts.tls ? { connect: { ...opts.tls } as PoolType.Options['connect'] } : {}),
    });
  }

  createPayment(order: OrderRecord): Promise<CallResult> {
    return this.timed('payment', async () => this.checked(await this.call('POST', '/v1/payments', JSON.stringify(paymentBody(order)), order.orderId), order));
  }

  queryPayment(order: OrderRecord): Promise<CallResult> {
    return this.timed('status', async () => {
      const result = await this.call('GET', `/v1/payments/${encodeURIComponent(order.orderId)}`, '');
      if (result.kind === 'http' && result.status === 404) return { kind: 'not_found' };
      return this.checked(result, order);
    });
  }

  // POST /v1/refunds, keyed by the refund id: a resend is answered, never refunded twice.
  createRefund(refund: RefundRecord): Promise<RefundCallResult> {
    return this.timed('refund', () => this.refundCall(refund));
  }

  private async timed<R extends { kind: string; reason?: unknown; status?: number }>(operation: PaymentCallOperation, run: () => Promise<R>): Promise<R> {
    const started = performance.now();
    const result = await run();
    this.observe(operation, (performance.now() - started) / 1000, errorKindOf(result));
    return result;
  }

  private async refundCall(refund: RefundRecord): Promise<RefundCallResult> {
    const body = { refundId: refund.refundId, orderId: refund.orderId, amount: refund.amount, currency: refund.currency, reason: refund.reason };
    const result = await this.call('POST', '/v1/refunds', JSON.stringify(body), refund.refundId);
    if (result.kind !== 'http') return result;
    const { status, json } = result;
    if (status >= 500) return { kind: 'server_error', status };
    if (isReplayRefusal(status, json)) return { kind: 'replayed' };
    if (status !== 200) return { kind: 'refused', status, error: errorOf(json) };
    return checkRefundAnswer(json, refund);
  }

  close(): void {
    this.closed = true;
    for (const call of [...this.calls]) call.fail('network');
    void this.pool.destroy().catch(() => undefined);
  }

  private checked(result: RawResult, order: OrderRecord): CallResult {
    if (result.kind !== 'http') return result;
    const { status, json } = result;
    if (status >= 500) return { kind: 'server_error', status };
    if (isReplayRefusal(status, json)) return { kind: 'replayed' };
    if (status !== 200) return { kind: 'refused', status, error: errorOf(json) };
    return checkAnswer(json, order);
  }

  // GET /v1/statements/{date}: the raw answer; runtime/outer/statements/ checks it.
  async statement(date: string): Promise<RawResult> {
    assert(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date), 'a statement date is YYYY-MM-DD');
    return this.timed('statement', () => this.call('GET', `/v1/statements/${date}`, '', undefined, STATEMENT_ANSWER_BYTES_MAX));
  }

  private call(method: 'GET' | 'POST', route: string, body: string, idempotencyKey?: string, maxBytes = PAYMENT_ANSWER_BYTES_MAX): Promise<RawResult> {
    const path = this.pathPrefix + route;
    const headers: Record<string, string> = { ...signRequest(this.opts.secret, method, path, body), accept: 'application/json' };
    if (method === 'POST') headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    if (this.closed) return Promise.resolve({ kind: 'unknown', reason: 'network' });
    return new Promise((resolve) => {
      // Real time, not the side's clock: a socket deadline, and the payment server
      // answers in real time however fast a test runs the gateway.
      const call = new Call(maxBytes, (result) => {
        this.calls.delete(call);
        resolve(result);
      }, this.opts.timeoutMs);
      this.calls.add(call);
      this.pool.dispatch({ origin: this.base.origin, method, path, headers, ...(method === 'POST' ? { body } : {}) }, call);
    });
  }
}

// One call as an undici dispatch handler (the raw interface: status, raw headers,
// chunks, end or error). It settles once: with the answer, or as `unknown` on its
// deadline, a broken connection, an answer larger than maxBytes, or close().
class Call implements Dispatcher.DispatchHandler {
  private abortRequest: ((err: Error) => void) | undefined;
  private status = 0;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly maxBytes: number, private readonly done: (r: RawResult) => void, timeoutMs: number) {
    this.timer = setTimeout(() => this.fail('timeout'), timeoutMs);
  }

  fail(reason: 'timeout' | 'network'): void {
    this.settle({ kind: 'unknown', reason });
    this.abortRequest?.(new Error(`payment call ended: ${reason}`));
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.settled) abort(new Error('payment call ended before it was sent'));
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.fail('network'); // not an answer: the outcome stays unknown
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    let json: unknown;
    try {
      json = JSON.parse((this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8'));
    } catch {
      json = undefined;
    }
    this.settle({ kind: 'http', status: this.status, json });
  }

  onError(): void {
    this.settle({ kind: 'unknown', reason: 'network' });
  }

  private settle(result: RawResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.done(result);
  }
}

export interface RefundAnswer {
  refundId: string;
  orderId: string;
  status: 'succeeded' | 'failed';
  amount: number;
  reason?: string;
}

export type RefundCallResult =
  | { kind: 'answer'; answer: RefundAnswer }
  | { kind: 'unknown'; reason: 'timeout' | 'network' }
  | { kind: 'server_error'; status: number }
  | { kind: 'refused'; status: number; error: string }
  | { kind: 'replayed' }
  | { kind: 'invalid'; reason: string };

// Like checkAnswer: a refund answer must be about this refund, order and amount.
export function checkRefundAnswer(json: unknown, refund: RefundRecord): RefundCallResult {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { kind: 'invalid', reason: 'answer is not an object' };
  const a = json as Record<string, unknown>;
  if (a.refundId !== refund.refundId || a.orderId !== refund.orderId) return { kind: 'invalid', reason: 'answer is for another refund' };
  if (a.amount !== refund.amount) return { kind: 'invalid', reason: 'answer has another amount' };
  if (a.status !== 'succeeded' && a.status !== 'failed') return { kind: 'invalid', reason: 'answer has no known status' };
  const answer: RefundAnswer = { refundId: refund.refundId, orderId: refund.orderId, status: a.status, amount: refund.amount };
  if (typeof a.reason === 'string') answer.reason = a.reason.slice(0, REASON_CHARS_MAX);
  return { kind: 'answer', answer };
}

// Why a call's result is no usable answer, or undefined when it is one (a status query
// that found nothing is an answer too).
function errorKindOf(result: { kind: string; reason?: unknown; status?: number }): PaymentErrorKind | undefined {
  switch (result.kind) {
    case 'unknown': return result.reason === 'timeout' ? 'timeout' : 'network';
    case 'server_error': case 'refused': case 'replayed': case 'invalid': return result.kind;
    case 'http': return (result.status ?? 0) >= 500 ? 'server_error' : result.status === 200 ? undefined : 'refused';
    default: return undefined;
  }
}

export type RawResult = { kind: 'http'; status: number; json: unknown } | { kind: 'unknown'; reason: 'timeout' | 'network' };

// The server saw this signature before and did nothing with the request. It says
// nothing about the secret or the clock (those are 401 SIGNATURE): a fresh attempt,
// with a fresh nonce, is the answer. Every attempt signs anew, so this only happens
// when a request was duplicated on its way (a proxy's retry, say).
const REPLAYED = errorEntry('payment-server', 'REPLAYED');

function isReplayRefusal(status: number, json: unknown): boolean {
  return status === REPLAYED.status && errorOf(json) === REPLAYED.code;
}

function errorOf(json: unknown): string {
  const error = (json as { error?: unknown } | undefined)?.error;
  return typeof error === 'string' ? error.slice(0, REASON_CHARS_MAX) : 'unknown';
}

// The answer must be about this order and this amount; anything else is a server bug
// or a tampered answer, and an outcome built from it could mark the wrong order paid.
export function checkAnswer(json: unknown, order: OrderRecord): CallResult {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { kind: 'invalid', reason: 'answer is not an object' };
  const a = json as Record<string, unknown>;
  if (a.orderId !== order.orderId) return { kind: 'invalid', reason: 'answer is for another order' };
  if (a.amount !== order.amount) return { kind: 'invalid', reason: 'answer has another amount' };
  if (a.status !== 'succeeded' && a.status !== 'failed' && a.status !== 'pending') return { kind: 'invalid', reason: 'answer has no known status' };
  if (a.qrCode !== undefined && (typeof a.qrCode !== 'string' || a.qrCode.length > QR_CODE_CHARS_MAX)) return { kind: 'invalid', reason: 'bad qrCode' };
  if (a.reason !== undefined && typeof a.reason !== 'string') return { kind: 'invalid', reason: 'bad reason' };
  const answer: PaymentAnswer = { orderId: order.orderId, status: a.status, amount: order.amount };
  if (typeof a.qrCode === 'string') answer.qrCode = a.qrCode;
  if (typeof a.reason === 'string') answer.reason = a.reason.slice(0, REASON_CHARS_MAX);
  return { kind: 'answer', answer };
}
