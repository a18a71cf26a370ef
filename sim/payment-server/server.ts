// A faithful simulator of the payment server of docs/payment-server.openapi.yaml: signed
// requests, idempotency by order id, scan-to-pay with signed notifications, refunds,
// daily statements, and fault knobs (latency, errors, a charge whose answer never comes
// in time, an outage, duplicate notifications) for the tests of invariants 1 and 2.
//
// Like a real payment server it refuses a replayed request: a signature already seen
// within the timestamp tolerance gets 401 {"error":"REPLAYED"} and does nothing.
//
// Control API for standalone use (unsigned, loopback only): GET /_sim/state, GET /_sim/charges,
// POST /_sim/faults and POST /_sim/statement-faults (statement-faults.ts). While `down` the listener is closed, so the control API is gone
// too: bring it down with `downForMs` from outside, or call setFaults from code.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { sleep } from '../../runtime/common/backoff.js';
import { systemClock, type Clock, type ClockTimer } from '../../runtime/common/clock.js';
import { systemRandom, type Random } from '../../runtime/common/random.js';
import { assert } from '../../runtime/common/errors.js';
import {
  NONCE_HEADER, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SEC_DEFAULT, TIMESTAMP_HEADER, signedParts, singleHeader, verifySignature,
} from '../../runtime/common/signature.js';
import { BodyTooLargeError, isLoopback, parseJson, readBody, sendError, sendJson } from './http-util.js';
import { HospitalDay, TIME_ZONE_DEFAULT } from '../../runtime/common/hospital-day.js';
import { answerOf, Ledger, LEDGER_PAYMENTS_MAX, refundAnswerOf, type Payment, type Refund } from './ledger.js';
import { Notifier, NOTIFY_RETRY_DEFAULT, type Delivery, type NotifyRetry } from './notifier.js';
import { ExpiringSet } from '../../runtime/outer/notify/bounded.js';
import { checkPaymentRequest, checkRefundRequest } from './validate.js';
import { DEFAULT_FAULTS, type Faults } from './types.js';
import { applyStatementFaults, checkStatementFaults, NO_STATEMENT_FAULTS, type StatementFaults } from './statement-faults.js';

// The largest real request is a few hundred bytes.
const REQUEST_BYTES_MAX = 16 * 1024;
// How long a completed scan-to-pay takes by default (a person scanning with a phone).
const QR_DELAY_MS_DEFAULT = 2_000;
const STATEMENT_PATH = /^\/v1\/statements\/(\d{4}-\d{2}-\d{2})$/;
// The order id is one path segment, percent-encoded by the client (`:` is `%3A`).
const PAYMENT_PATH = /^\/v1\/payments\/([^/]{1,200})$/;
const ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
// Signatures remembered for replay refusal: far more than a gateway sends within the
// tolerance window, bounded so that a flood cannot grow memory.
const SEEN_SIGNATURES_MAX = 100_000;
// Payment attempts remembered per order, for tests that look at what each retry carried.
const ATTEMPTS_PER_ORDER_MAX = 64;

export interface PaymentServerSimOptions {
  host: string;
  port: number; // 0: any free port
  secret: string;
  notifyUrl?: string;
  qrDelayMs?: number;
  faults?: Partial<Faults>;
  toleranceSec?: number;
  notifyRetry?: Partial<NotifyRetry>;
  tls?: SimTls; // serve HTTPS, as a real payment server does
  // A statement is of a day in this zone, as a payment server that bills by the local
  // day does; the gateway's timeZone (default Asia/Shanghai).
  timeZone?: string;
  now?: () => number; // when payments and refunds are made (default the clock's)
  // The held answers', QR codes' and latency's timers and the notifier's retries. The
  // signatures' timestamps stay on the wall clock: the gateway's real clock signs them.
  clock?: Clock;
  random?: Random; // which requests errorRate fails, and the notifier's retry jitter
}

export interface SignedAttempt {
  timestamp: string;
  nonce: string;
  signature: string;
}

export interface SimTls {
  cert: string | Buffer; // PEM
  key: string | Buffer;
  ca?: string | Buffer; // checks client certificates
  requireClientCert?: boolean; // mutual TLS: refuse a client without a certificate from `ca`
}

export class PaymentServerSim {
  private ledger = new Ledger(new HospitalDay(TIME_ZONE_DEFAULT));
  private now: () => number = Date.now;
  private clock: Clock = systemClock;
  private random: Random = systemRandom();
  private server: http.Server | https.Server | undefined;
  private readonly timers = new Set<ClockTimer>();
  private readonly paymentRequests = new Map<string, number>();
  private readonly seenSignatures = new ExpiringSet(SEEN_SIGNATURES_MAX);
  private readonly attempts = new Map<string, SignedAttempt[]>();
  private replaysRefused = 0;
  private opts: PaymentServerSimOptions | undefined;
  private notifier: Notifier | undefined;
  private notifyUrl: string | undefined;
  private faults: Faults = { ...DEFAULT_FAULTS };
  private statementFaults: StatementFaults = { ...NO_STATEMENT_FAULTS };
  private boundPort = 0;
  private listening = false;
  private stopped = false;

  async start(opts: PaymentServerSimOptions): Promise<{ url: string }> {
    assert(this.opts === undefined, 'a simulator starts once');
    assert(opts.secret.length > 0, 'secret is not empty');
    this.opts = opts;
    this.ledger = new Ledger(new HospitalDay(opts.timeZone ?? TIME_ZONE_DEFAULT));
    if (opts.clock) this.clock = opts.clock;
    if (opts.random) this.random = opts.random;
    const clock = this.clock;
    this.now = opts.now ?? (() => clock.now());
    this.notifyUrl = opts.notifyUrl;
    this.notifier = new Notifier(opts.secret, () => this.notifyUrl, { ...NOTIFY_RETRY_DEFAULT, ...opts.notifyRetry }, this.clock, this.random);
    this.boundPort = opts.port;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server = opts.tls ? https.createServer(simTlsOptions(opts.tls), handler) : http.createServer(handler);
    await this.listen();
    this.boundPort = (this.server.address() as AddressInfo).port;
    await this.setFaults(opts.faults ?? {});
    return { url: this.url() };
  }

  url(): string {
    assert(this.opts !== undefined, 'started');
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${this.opts.tls ? 'https' : 'http'}://${host}:${this.boundPort}`;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    await this.notifier?.stop();
    await this.unlisten();
  }

  // Resolves once an outage has taken effect (listener closed or reopened).
  async setFaults(partial: Partial<Faults>): Promise<void> {
    const next = { ...this.faults, ...partial };
    assert(next.errorRate >= 0 && next.errorRate <= 1, 'errorRate is within 0..1');
    assert(next.latencyMs >= 0 && next.holdMs >= 0 && next.downForMs >= 0, 'durations are not negative');
    assert(Number.isInteger(next.timeoutAfterCharge) && next.timeoutAfterCharge >= 0, 'timeoutAfterCharge is a count');
    assert(Number.isInteger(next.refuseAsReplayed) && next.refuseAsReplayed >= 0, 'refuseAsReplayed is a count');
    this.faults = next;
    if (this.stopped) return;
    if (next.down && this.listening) {
      await this.unlisten();
      if (next.downForMs > 0) this.later(next.downForMs, () => void this.setFaults({ down: false, downForMs: 0 }));
    } else if (!next.down && !this.listening) {
      await this.listen();
    }
  }

  // Discrepancies in GET /v1/statements answers (statement-faults.ts); also
  // POST /_sim/statement-faults.
  setStatementFaults(partial: Partial<StatementFaults>): void {
    assert(checkStatementFaults(partial) !== undefined, 'statement faults are counts');
    this.statementFaults = { ...this.statementFaults, ...partial };
  }

  setNotifyUrl(url: string | undefined): void {
    this.notifyUrl = url;
  }

  // How long a patient takes to scan a QR code, for payments made from now on.
  setQrDelayMs(ms: number): void {
    assert(this.opts !== undefined, 'started');
    this.opts = { ...this.opts, qrDelayMs: ms };
  }

  chargesFor(orderId: string): number {
    return this.ledger.chargesFor(orderId);
  }

  // POST /v1/payments requests that passed the signature check, per order id.
  requestsFor(orderId: string): number {
    return this.paymentRequests.get(orderId) ?? 0;
  }

  // The signed headers of every POST /v1/payments for this order that passed the
  // signature check (before any fault), oldest first.
  attemptsFor(orderId: string): SignedAttempt[] {
    return [...(this.attempts.get(orderId) ?? [])];
  }

  // Requests refused as replays, by the cache or by the refuseAsReplayed fault.
  replayedCount(): number {
    return this.replaysRefused;
  }

  totalCharges(): number {
    return this.ledger.totalCharges();
  }

  payments(): Payment[] {
    return this.ledger.payments();
  }

  refunds(): Refund[] {
    return this.ledger.refunds();
  }

  notifications(): Delivery[] {
    return this.notifier?.deliveries() ?? [];
  }

  private listen(): Promise<void> {
    assert(this.opts !== undefined, 'started');
    const host = this.opts.host;
    const server = this.server!;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, host, () => {
        server.off('error', reject);
        this.listening = true;
        resolve();
      });
    });
  }

  // Closes the listener and every open connection (keep-alive ones and held answers
  // included), so that clients see resets and refused connects as in a real outage.
  private unlisten(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    const server = this.server!;
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: string;
    try {
      body = await readBody(req, REQUEST_BYTES_MAX);
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendError(res, 'TOO_LARGE');
      return;
    }
    const path = req.url ?? '/';
    if (path.startsWith('/_sim/')) return this.control(req, res, path, body);
    if (!this.signed(req, path, body)) return sendError(res, 'SIGNATURE');
    this.recordAttempt(req, path);
    if (this.replayed(req)) {
      this.replaysRefused += 1;
      return sendError(res, 'REPLAYED');
    }
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs, undefined, this.clock);
    if (this.faults.errorRate > 0 && this.random() < this.faults.errorRate) return sendError(res, 'INTERNAL');
    this.route(req, res, path, body);
  }

  private signed(req: http.IncomingMessage, path: string, body: string): boolean {
    assert(this.opts !== undefined, 'started');
    const verdict = verifySignature(this.opts.secret, signedParts(req.headers, req.method ?? '', path, body), this.toleranceSec());
    return verdict.ok;
  }

  // A signature seen before within the tolerance is a replay; a fresh one is remembered
  // until its timestamp leaves the window (after that, verifySignature refuses it as STALE).
  private replayed(req: http.IncomingMessage): boolean {
    const signature = singleHeader(req.headers[SIGNATURE_HEADER])!;
    const timestamp = Number(singleHeader(req.headers[TIMESTAMP_HEADER]));
    const now = Date.now(); // wall time, as the signatures' timestamps
    if (this.seenSignatures.has(signature, now)) return true;
    this.seenSignatures.add(signature, (timestamp + this.toleranceSec() + 1) * 1000, now);
    if (this.faults.refuseAsReplayed > 0) {
      this.faults.refuseAsReplayed -= 1;
      return true;
    }
    return false;
  }

  private recordAttempt(req: http.IncomingMessage, path: string): void {
    if (req.method !== 'POST' || path !== '/v1/payments') return;
    const orderId = singleHeader(req.headers['idempotency-key']);
    if (orderId === undefined) return;
    const list = this.attempts.get(orderId) ?? [];
    if (list.length >= ATTEMPTS_PER_ORDER_MAX) return;
    if (list.length === 0 && this.attempts.size >= LEDGER_PAYMENTS_MAX) return;
    list.push({
      timestamp: singleHeader(req.headers[TIMESTAMP_HEADER])!,
      nonce: singleHeader(req.headers[NONCE_HEADER])!,
      signature: singleHeader(req.headers[SIGNATURE_HEADER])!,
    });
    this.attempts.set(orderId, list);
  }

  private toleranceSec(): number {
    return this.opts?.toleranceSec ?? SIGNATURE_TOLERANCE_SEC_DEFAULT;
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: string): void {
    const method = req.method;
    if (method === 'POST' && path === '/v1/payments') return this.pay(req, res, body);
    if (method === 'POST' && path === '/v1/refunds') return this.refund(req, res, body);
    const payment = PAYMENT_PATH.exec(path);
    if (method === 'GET' && payment) {
      const orderId = decodedSegment(payment[1]!);
      if (orderId === undefined || !ORDER_ID.test(orderId)) return sendError(res, 'INVALID', { field: 'orderId' });
      return this.status(res, orderId);
    }
    const statement = STATEMENT_PATH.exec(path);
    if (method === 'GET' && statement) return sendJson(res, 200, applyStatementFaults(this.ledger.statement(statement[1]!), this.statementFaults));
    sendError(res, 'NOT_FOUND');
  }

  private pay(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const checked = checkPaymentRequest(parseJson(body));
    if (!checked.ok) return sendError(res, 'INVALID', { field: checked.error });
    const request = checked.value;
    if (this.paymentRequests.size < LEDGER_PAYMENTS_MAX || this.paymentRequests.has(request.orderId)) {
      this.paymentRequests.set(request.orderId, this.requestsFor(request.orderId) + 1);
    }
    if (singleHeader(req.headers['idempotency-key']) !== request.orderId) return sendError(res, 'IDEMPOTENCY_KEY');
    const recorded = this.ledger.pay(request, this.now());
    if (recorded.kind === 'conflict') return sendError(res, 'IDEMPOTENCY_CONFLICT');
    if (recorded.kind === 'full') return sendError(res, 'FULL');
    const payment = recorded.value;
    if (recorded.kind === 'created' && payment.status === 'pending') this.scheduleQr(payment.orderId);
    if (recorded.kind === 'created' && payment.status === 'succeeded' && this.faults.doubleCharge > 0) {
      this.faults.doubleCharge -= 1;
      this.ledger.chargeAgain(payment.orderId);
    }
    if (recorded.kind === 'created' && this.faults.timeoutAfterCharge > 0) {
      this.faults.timeoutAfterCharge -= 1;
      this.later(this.faults.holdMs, () => sendJson(res, 200, answerOf(payment)));
      return;
    }
    sendJson(res, 200, answerOf(payment));
  }

  private status(res: http.ServerResponse, orderId: string): void {
    const payment = this.ledger.payment(orderId);
    if (!payment) return sendError(res, 'NOT_FOUND');
    sendJson(res, 200, answerOf(payment));
  }

  private refund(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const checked = checkRefundRequest(parseJson(body));
    if (!checked.ok) return sendError(res, 'INVALID', { field: checked.error });
    if (singleHeader(req.headers['idempotency-key']) !== checked.value.refundId) return sendError(res, 'IDEMPOTENCY_KEY');
    const recorded = this.ledger.refund(checked.value, this.now(), this.faults.declineRefunds > 0);
    if (recorded.kind === 'created' && recorded.value.failReason === 'declined') this.faults.declineRefunds -= 1;
    if (recorded.kind === 'not_found') return sendError(res, 'NOT_FOUND');
    if (recorded.kind === 'conflict') return sendError(res, 'IDEMPOTENCY_CONFLICT');
    if (recorded.kind === 'full') return sendError(res, 'FULL');
    sendJson(res, 200, refundAnswerOf(recorded.value));
  }

  private scheduleQr(orderId: string): void {
    this.later(this.opts?.qrDelayMs ?? QR_DELAY_MS_DEFAULT, () => {
      const payment = this.ledger.completeQr(orderId, this.now());
      if (!payment || payment.status === 'pending') return;
      const notification = {
        notifyId: `ntf-${randomBytes(8).toString('hex')}`,
        orderId, status: payment.status, amount: payment.amount, currency: payment.currency,
      };
      this.notifier!.send(notification);
      if (this.faults.duplicateNotifications) this.notifier!.send(notification);
    });
  }

  private control(req: http.IncomingMessage, res: http.ServerResponse, path: string, body: string): void {
    if (!isLoopback(req.socket.remoteAddress)) return sendJson(res, 403, { error: 'FORBIDDEN' });
    if (req.method === 'GET' && path === '/_sim/state') return sendJson(res, 200, this.state());
    if (req.method === 'GET' && path === '/_sim/charges') return sendJson(res, 200, { totalCharges: this.ledger.totalCharges() });
    if (req.method === 'POST' && path === '/_sim/faults') return this.controlFaults(res, body);
    if (req.method === 'POST' && path === '/_sim/statement-faults') return this.controlStatementFaults(res, body);
    sendError(res, 'NOT_FOUND');
  }

  private controlFaults(res: http.ServerResponse, body: string): void {
    const partial = checkFaults(parseJson(body));
    if (partial === undefined) return sendJson(res, 400, { error: 'INVALID' });
    // Answer first: an outage closes this very connection.
    sendJson(res, 200, { faults: { ...this.faults, ...partial } });
    res.once('finish', () => void this.setFaults(partial));
  }

  private controlStatementFaults(res: http.ServerResponse, body: string): void {
    const partial = checkStatementFaults(parseJson(body));
    if (partial === undefined) return sendJson(res, 400, { error: 'INVALID' });
    this.setStatementFaults(partial);
    sendJson(res, 200, { statementFaults: this.statementFaults });
  }

  private state(): object {
    const strip = ({ requestJson: _r, authCode: _a, ...rest }: Payment) => rest;
    return {
      url: this.url(),
      notifyUrl: this.notifyUrl ?? null,
      faults: this.faults,
      totalCharges: this.ledger.totalCharges(),
      charges: this.ledger.chargeCounts(),
      payments: this.ledger.payments().map(strip),
      refunds: this.ledger.refunds().map(({ requestJson: _r, ...rest }) => rest),
      notifications: this.notifications(),
    };
  }
}

function checkFaults(value: unknown): Partial<Faults> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Partial<Faults> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(key in DEFAULT_FAULTS)) return undefined;
    const expected = typeof DEFAULT_FAULTS[key as keyof Faults];
    if (typeof v !== expected) return undefined;
    if (typeof v === 'number' && (!Number.isFinite(v) || v < 0)) return undefined;
    (out as Record<string, unknown>)[key] = v;
  }
  if (out.errorRate !== undefined && out.errorRate > 1) return undefined;
  if (out.timeoutAfterCharge !== undefined && !Number.isInteger(out.timeoutAfterCharge)) return undefined;
  if (out.declineRefunds !== undefined && !Number.isInteger(out.declineRefunds)) return undefined;
  if (out.refuseAsReplayed !== undefined && !Number.isInteger(out.refuseAsReplayed)) return undefined;
  return out;
}

function simTlsOptions(t: SimTls): https.ServerOptions {
  const required = t.requireClientCert ?? false;
  assert(!required || t.ca !== undefined, 'requireClientCert needs a ca');
  return {
    cert: t.cert, key: t.key, ...(t.ca !== undefined ? { ca: t.ca } : {}),
    requestCert: required, rejectUnauthorized: required, minVersion: 'TLSv1.2',
  };
}

function decodedSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // a malformed escape
  }
}
