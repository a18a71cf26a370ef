// Request checks of the simulated payment server: what a real one refuses with 400.
// Unknown fields are refused so that the relay's "only these fields cross" is tested.
import type { PaymentRequest, RefundRequest } from './types.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const AUTH_CODE = /^[0-9]{6,12}$/;
const AMOUNT_MAX = 100_000_000;
const DESCRIPTION_CHARS_MAX = 128;
const REASON_CHARS_MAX = 256;

type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

const PAYMENT_FIELDS = new Set(['orderId', 'amount', 'currency', 'method', 'description', 'authCode']);
const REFUND_FIELDS = new Set(['refundId', 'orderId', 'amount', 'currency', 'reason']);

export function checkPaymentRequest(value: unknown): Checked<PaymentRequest> {
  if (!isObject(value)) return fail('body is not an object');
  const extra = Object.keys(value).find((k) => !PAYMENT_FIELDS.has(k));
  if (extra !== undefined) return fail(`unknown field ${extra}`);
  const { orderId, amount, currency, method, description, authCode } = value;
  if (typeof orderId !== 'string' || !ID.test(orderId)) return fail('orderId');
  if (!isAmount(amount)) return fail('amount');
  if (currency !== 'CNY') return fail('currency');
  if (method !== 'code' && method !== 'qr') return fail('method');
  if (typeof description !== 'string' || description.length > DESCRIPTION_CHARS_MAX) return fail('description');
  if (method === 'code' && (typeof authCode !== 'string' || !AUTH_CODE.test(authCode))) return fail('authCode');
  if (method === 'qr' && authCode !== undefined) return fail('authCode');
  const request: PaymentRequest = { orderId, amount, currency, method, description };
  if (typeof authCode === 'string') request.authCode = authCode;
  return { ok: true, value: request };
}

export function checkRefundRequest(value: unknown): Checked<RefundRequest> {
  if (!isObject(value)) return fail('body is not an object');
  const extra = Object.keys(value).find((k) => !REFUND_FIELDS.has(k));
  if (extra !== undefined) return fail(`unknown field ${extra}`);
  const { refundId, orderId, amount, currency, reason } = value;
  if (typeof refundId !== 'string' || !ID.test(refundId)) return fail('refundId');
  if (typeof orderId !== 'string' || !ID.test(orderId)) return fail('orderId');
  if (!isAmount(amount)) return fail('amount');
  if (currency !== 'CNY') return fail('currency');
  if (typeof reason !== 'string' || reason.length > REASON_CHARS_MAX) return fail('reason');
  return { ok: true, value: { refundId, orderId, amount, currency, reason } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isAmount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= AMOUNT_MAX;
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
