// The simulated payment server's books: payments, refunds, charges per order and the
// idempotency records that make a repeated request safe. No HTTP here.
import { randomBytes } from 'node:crypto';
import { canonicalJson } from '../../runtime/common/canonical-json.js';
import { assert } from '../../runtime/common/errors.js';
import type { HospitalDay } from '../../runtime/common/hospital-day.js';
import type { PaymentAnswer, PaymentRequest, PaymentStatus, RefundAnswer, RefundRequest } from './types.js';

// A simulator that runs for days under a load generator must not grow without bound.
export const LEDGER_PAYMENTS_MAX = 200_000;
export const LEDGER_REFUNDS_MAX = 200_000;

// A wallet code ending so is declined: lets scenarios produce a failure on purpose.
const DECLINED_CODE_SUFFIX = '0000';

export interface Payment extends PaymentRequest {
  status: PaymentStatus;
  qrCode?: string;
  reason?: string;
  createdAtMs: number;
  completedAtMs?: number;
  refunded: number;
  requestJson: string;
}

export interface Refund extends RefundRequest {
  status: 'succeeded' | 'failed';
  failReason?: string;
  createdAtMs: number;
  requestJson: string;
}

export type Recorded<T> = { kind: 'created' | 'replayed'; value: T } | { kind: 'conflict' } | { kind: 'full' };

export class Ledger {
  private readonly byOrder = new Map<string, Payment>();
  private readonly byRefund = new Map<string, Refund>();
  private readonly charges = new Map<string, number>();

  constructor(private readonly day: HospitalDay) {}

  // Idempotency: the order id is the key. The same body again gets the payment as it
  // stands now (a scan-to-pay may have completed since), another body is a conflict.
  pay(request: PaymentRequest, nowMs: number): Recorded<Payment> {
    const requestJson = canonicalJson(request);
    const existing = this.byOrder.get(request.orderId);
    if (existing) return existing.requestJson === requestJson ? { kind: 'replayed', value: existing } : { kind: 'conflict' };
    if (this.byOrder.size >= LEDGER_PAYMENTS_MAX) return { kind: 'full' };
    const payment: Payment = { ...request, status: 'pending', createdAtMs: nowMs, refunded: 0, requestJson };
    this.byOrder.set(request.orderId, payment);
    if (request.method === 'qr') {
      payment.qrCode = `ferrysim://qr/${request.orderId}/${randomBytes(8).toString('hex')}`;
    } else if (request.authCode!.endsWith(DECLINED_CODE_SUFFIX)) {
      this.finish(payment, 'failed', nowMs, 'declined');
    } else {
      this.finish(payment, 'succeeded', nowMs);
    }
    return { kind: 'created', value: payment };
  }

  // The payer scanned and paid: the pending scan-to-pay order completes.
  completeQr(orderId: string, nowMs: number): Payment | undefined {
    const payment = this.byOrder.get(orderId);
    if (!payment || payment.status !== 'pending') return undefined;
    this.finish(payment, 'succeeded', nowMs);
    return payment;
  }

  // `decline`: the server turns this attempt down (a fault knob), moving no money. As
  // wallet providers do, a failed refund asked again under its own refund id (and with
  // the same body) is a new attempt, not a replay: that is how a declined refund is
  // retried without risking a second refund.
  refund(request: RefundRequest, nowMs: number, decline = false): Recorded<Refund> | { kind: 'not_found' } {
    const requestJson = canonicalJson(request);
    const existing = this.byRefund.get(request.refundId);
    if (existing && existing.requestJson !== requestJson) return { kind: 'conflict' };
    if (existing && existing.status === 'succeeded') return { kind: 'replayed', value: existing };
    const payment = this.byOrder.get(request.orderId);
    if (!payment) return { kind: 'not_found' };
    if (!existing && this.byRefund.size >= LEDGER_REFUNDS_MAX) return { kind: 'full' };
    const refund: Refund = { ...request, status: 'succeeded', createdAtMs: existing?.createdAtMs ?? nowMs, requestJson };
    if (decline) {
      refund.status = 'failed';
      refund.failReason = 'declined';
    } else if (payment.status !== 'succeeded') {
      refund.status = 'failed';
      refund.failReason = 'not_paid';
    } else if (payment.refunded + request.amount > payment.amount) {
      refund.status = 'failed';
      refund.failReason = 'exceeds_paid';
    } else {
      payment.refunded += request.amount;
    }
    assert(payment.refunded <= payment.amount, 'refunds never exceed what was paid');
    this.byRefund.set(request.refundId, refund);
    return { kind: 'created', value: refund };
  }

  payment(orderId: string): Payment | undefined {
    return this.byOrder.get(orderId);
  }

  // A second charge for a paid order (the doubleCharge fault).
  chargeAgain(orderId: string): void {
    assert(this.chargesFor(orderId) > 0, 'only a charged order is charged again');
    this.charges.set(orderId, this.chargesFor(orderId) + 1);
  }

  chargesFor(orderId: string): number {
    return this.charges.get(orderId) ?? 0;
  }

  totalCharges(): number {
    let total = 0;
    for (const n of this.charges.values()) total += n;
    return total;
  }

  chargeCounts(): Record<string, number> {
    return Object.fromEntries(this.charges);
  }

  payments(): Payment[] {
    return [...this.byOrder.values()];
  }

  refunds(): Refund[] {
    return [...this.byRefund.values()];
  }

  // Days are local calendar days (the ledger's zone) of when the payment or refund was made.
  statement(date: string): { date: string; payments: object[]; refunds: object[] } {
    const sameDay = (ms: number) => this.day.dayOf(ms) === date;
    return {
      date,
      payments: this.payments().filter((p) => sameDay(p.createdAtMs)).map((p) => ({
        ...answerOf(p), currency: p.currency, method: p.method, refunded: p.refunded,
        createdAt: new Date(p.createdAtMs).toISOString(),
      })),
      refunds: this.refunds().filter((r) => sameDay(r.createdAtMs)).map((r) => ({
        ...refundAnswerOf(r), currency: r.currency, createdAt: new Date(r.createdAtMs).toISOString(),
      })),
    };
  }

  private finish(payment: Payment, status: 'succeeded' | 'failed', nowMs: number, reason?: string): void {
    assert(payment.status === 'pending', 'only a pending payment completes');
    payment.status = status;
    payment.completedAtMs = nowMs;
    // Only a scan-to-pay order has a QR code to drop: `delete` turns an object into a
    // slow dictionary, which every later read of a wallet payment would pay for.
    if (payment.qrCode !== undefined) delete payment.qrCode;
    if (reason !== undefined) payment.reason = reason;
    if (status === 'succeeded') this.charges.set(payment.orderId, this.chargesFor(payment.orderId) + 1);
  }
}

export function answerOf(p: Payment): PaymentAnswer {
  const answer: PaymentAnswer = { orderId: p.orderId, status: p.status, amount: p.amount };
  if (p.qrCode !== undefined) answer.qrCode = p.qrCode;
  if (p.reason !== undefined) answer.reason = p.reason;
  return answer;
}

export function refundAnswerOf(r: Refund): RefundAnswer {
  const answer: RefundAnswer = { refundId: r.refundId, orderId: r.orderId, status: r.status, amount: r.amount };
  if (r.failReason !== undefined) answer.reason = r.failReason;
  return answer;
}
