// The records that may cross the isolation gap, and nothing else. This file is the only
// place where the inner (medical) and outer (payment) sides meet: both import it, neither
// imports the other. Every record is re-validated on arrival against these schemas; a
// record that fails is a protocol violation and ends the connection (OpenSSH monitor.c).
//
// What may cross is deliberately poor: an order carries id, amount, currency, method,
// description and an optional one-time wallet code; outcomes carry ids and statuses; a
// refusal at the notification endpoint carries a reason, an address, a time and a count.
// No schema here has a field that could hold a patient's identity or what they entered.
import { Ajv, type ValidateFunction } from 'ajv';

export const CHANNEL_VERSION = 1;

// A record larger than this is refused by both sides before parsing: the largest real
// record (an order with a 128-character description) is well under 1 KiB.
export const MAX_RECORD_BYTES = 16 * 1024;

export type PaymentMethod = 'code' | 'qr';
export type FinalStatus = 'succeeded' | 'failed';

export interface HelloRecord { k: 'hello'; side: 'inner' | 'outer'; version: number }
export interface HeartbeatRecord { k: 'heartbeat'; ts: number }
export interface OrderRecord {
  k: 'order';
  orderId: string;
  amount: number;
  currency: 'CNY';
  method: PaymentMethod;
  description: string;
  authCode?: string;
}
export interface OrderAckRecord { k: 'order.ack'; orderId: string }
export interface OutcomeRecord {
  k: 'outcome';
  orderId: string;
  status: 'succeeded' | 'failed' | 'pending' | 'unknown';
  amount?: number;
  qrCode?: string;
  reason?: string;
}
export interface NotificationRecord {
  k: 'notification';
  notifyId: string;
  orderId: string;
  status: FinalStatus;
  amount: number;
  currency: 'CNY';
}
// `seen` says the id was accepted before: with the same content (a duplicate, accepted
// again without effect) or with different content (a conflict, refused).
export interface NotificationAckRecord { k: 'notification.ack'; notifyId: string; accepted: boolean; reason?: string; seen?: 'same' | 'different' }
// What the outer side's notification endpoint refused, for the inner side's audit chain.
// It carries only why, from where, when and how often, and the order id when the body
// named one: nothing else of a refused body crosses. Under a flood one record counts many
// refusals of one reason from one address (`at` is the first of them); remote `*` counts
// the addresses beyond the outer side's bound on distinct tallies.
export const NOTIFY_REFUSAL_REASONS = [
  'NOT_FOUND', 'METHOD', 'TOO_LARGE', 'SIGNATURE_MISSING', 'SIGNATURE_MALFORMED', 'STALE', 'BAD_SIGNATURE',
  'REPLAYED', 'INVALID', 'AMOUNT_MISMATCH', 'CONFLICT', 'CONNECTIONS', 'TIMEOUT', 'BAD_HTTP',
] as const;
export type NotifyRefusalReason = typeof NOTIFY_REFUSAL_REASONS[number];
export interface NotifyRefusedRecord { k: 'notify.refused'; reason: NotifyRefusalReason; remote: string; at: number; count: number; orderId?: string }
export interface RefundRecord {
  k: 'refund';
  refundId: string;
  orderId: string;
  amount: number;
  currency: 'CNY';
  reason: string;
}
export interface RefundOutcomeRecord {
  k: 'refund.outcome';
  refundId: string;
  orderId: string;
  status: 'succeeded' | 'failed' | 'unknown';
  amount: number;
  reason?: string;
}
// Daily reconciliation: the inner side asks for the payment server's statement of a
// (UTC) day; the outer side answers with parts of at most STATEMENT_PART_LINES_MAX lines,
// or with statement.failed. A line carries ids, amounts and statuses only.
export const STATEMENT_PART_LINES_MAX = 40;
// A statement longer than this is refused on both sides: a day of a large hospital is
// well under it, and the inner side holds the whole statement in memory to match it.
export const STATEMENT_LINES_MAX = 200_000;
export interface StatementLine {
  kind: 'payment' | 'refund';
  orderId: string;
  refundId?: string;
  amount: number;
  currency: 'CNY';
  status: 'succeeded' | 'failed' | 'pending';
  at: string; // ISO-8601, when the server created the payment or refund
}
export interface StatementRequestRecord { k: 'statement.request'; requestId: string; date: string }
export interface StatementPartRecord { k: 'statement.part'; requestId: string; date: string; part: number; last: boolean; lines: StatementLine[] }
export interface StatementFailedRecord { k: 'statement.failed'; requestId: string; date: string; reason: string }

export type ChannelRecord =
  | HelloRecord | HeartbeatRecord | OrderRecord | OrderAckRecord
  | OutcomeRecord | NotificationRecord | NotificationAckRecord | NotifyRefusedRecord
  | RefundRecord | RefundOutcomeRecord
  | StatementRequestRecord | StatementPartRecord | StatementFailedRecord;
export type RecordKind = ChannelRecord['k'];

// Every id that crosses (orders, notifications, refunds, requests) has this form.
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';
const id = { type: 'string', pattern: ID_PATTERN };
const amount = { type: 'integer', minimum: 1, maximum: 100_000_000 };
const currency = { const: 'CNY' };
const DATE = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
const statementLine = {
  type: 'object', additionalProperties: false,
  required: ['kind', 'orderId', 'amount', 'currency', 'status', 'at'],
  properties: {
    kind: { enum: ['payment', 'refund'] },
    orderId: id,
    refundId: id,
    // A statement reports what the server holds, mismatches included: 0 is possible.
    amount: { type: 'integer', minimum: 0, maximum: 100_000_000 },
    currency,
    status: { enum: ['succeeded', 'failed', 'pending'] },
    at: { type: 'string', maxLength: 40, pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$' },
  },
};

const SCHEMAS: Record<RecordKind, object> = {
  hello: obj({ side: { enum: ['inner', 'outer'] }, version: { type: 'integer', minimum: 1 } }, ['side', 'version']),
  heartbeat: obj({ ts: { type: 'integer', minimum: 0 } }, ['ts']),
  order: obj({
    orderId: id, amount, currency,
    method: { enum: ['code', 'qr'] },
    description: { type: 'string', maxLength: 128, pattern: '^[^\\u0000-\\u001f]*$' },
    authCode: { type: 'string', pattern: '^[0-9]{6,12}$' },
  }, ['orderId', 'amount', 'currency', 'method', 'description']),
  'order.ack': obj({ orderId: id }, ['orderId']),
  outcome: obj({
    orderId: id,
    status: { enum: ['succeeded', 'failed', 'pending', 'unknown'] },
    amount,
    qrCode: { type: 'string', maxLength: 256 },
    reason: { type: 'string', maxLength: 256 },
  }, ['orderId', 'status']),
  notification: obj({
    notifyId: id, orderId: id, status: { enum: ['succeeded', 'failed'] }, amount, currency,
  }, ['notifyId', 'orderId', 'status', 'amount', 'currency']),
  'notification.ack': obj({
    notifyId: id, accepted: { type: 'boolean' }, reason: { type: 'string', maxLength: 256 }, seen: { enum: ['same', 'different'] },
  }, ['notifyId', 'accepted']),
  'notify.refused': obj({
    reason: { enum: [...NOTIFY_REFUSAL_REASONS] },
    // An IPv4 or IPv6 address (with a zone, for link-local), `*` or `unknown`.
    remote: { type: 'string', pattern: '^([0-9A-Fa-f:.]{2,45}(%[A-Za-z0-9_.-]{1,16})?|\\*|unknown)$' },
    at: { type: 'integer', minimum: 0 },
    count: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
    orderId: id,
  }, ['reason', 'remote', 'at', 'count']),
  refund: obj({
    refundId: id, orderId: id, amount, currency,
    reason: { type: 'string', maxLength: 128, pattern: '^[^\\u0000-\\u001f]*$' },
  }, ['refundId', 'orderId', 'amount', 'currency', 'reason']),
  'refund.outcome': obj({
    refundId: id, orderId: id, status: { enum: ['succeeded', 'failed', 'unknown'] }, amount,
    reason: { type: 'string', maxLength: 256 },
  }, ['refundId', 'orderId', 'status', 'amount']),
  'statement.request': obj({ requestId: id, date: { type: 'string', pattern: DATE } }, ['requestId', 'date']),
  'statement.part': obj({
    requestId: id,
    date: { type: 'string', pattern: DATE },
    part: { type: 'integer', minimum: 0, maximum: STATEMENT_LINES_MAX },
    last: { type: 'boolean' },
    lines: { type: 'array', maxItems: STATEMENT_PART_LINES_MAX, items: statementLine },
  }, ['requestId', 'date', 'part', 'last', 'lines']),
  'statement.failed': obj({ requestId: id, date: { type: 'string', pattern: DATE }, reason: { type: 'string', maxLength: 256 } }, ['requestId', 'date', 'reason']),
};

function obj(properties: Record<string, object>, required: string[]): object {
  return { type: 'object', additionalProperties: false, required: ['k', ...required], properties: { k: { type: 'string' }, ...properties } };
}

// Which side may receive which kind: the table that refuses a record arriving in the
// wrong direction (an outer side cannot send an order to the inner side).
export const RECEIVES: Record<'inner' | 'outer', ReadonlySet<RecordKind>> = {
  inner: new Set<RecordKind>(['hello', 'heartbeat', 'order.ack', 'outcome', 'notification', 'notify.refused', 'refund.outcome', 'statement.part', 'statement.failed']),
  outer: new Set<RecordKind>(['hello', 'heartbeat', 'order', 'notification.ack', 'refund', 'statement.request']),
};

const ajv = new Ajv({ allErrors: false, strict: true });
const validators = new Map<string, ValidateFunction>(
  Object.entries(SCHEMAS).map(([kind, schema]) => [kind, ajv.compile(schema)]),
);

export class RecordError extends Error {}

// Parses and validates one record for the side that receives it. Throws RecordError
// on anything that is not exactly a declared record of a kind this side may receive.
export function parseRecord(bytes: Buffer, receiver: 'inner' | 'outer'): ChannelRecord {
  if (bytes.length > MAX_RECORD_BYTES) throw new RecordError(`record of ${bytes.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RecordError('record is not JSON');
  }
  return checkRecord(value, receiver);
}

export function checkRecord(value: unknown, receiver: 'inner' | 'outer'): ChannelRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RecordError('record is not an object');
  const kind = (value as { k?: unknown }).k;
  if (typeof kind !== 'string' || !validators.has(kind)) throw new RecordError(`unknown record kind ${JSON.stringify(kind)}`);
  if (!RECEIVES[receiver].has(kind as RecordKind)) throw new RecordError(`the ${receiver} side does not receive ${kind} records`);
  const validate = validators.get(kind)!;
  if (!validate(value)) {
    const e = validate.errors?.[0];
    throw new RecordError(`${kind} record invalid at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
  }
  return value as ChannelRecord;
}
