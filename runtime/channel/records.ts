// The records that may cross the isolation gap, and nothing else: CHANNEL below, one row
// per kind. This file is the only place where the inner (medical) and outer (payment)
// sides meet: both import it, neither imports the other. Every record is re-validated on
// arrival against its row; a record that fails is a protocol violation and ends the
// connection (OpenSSH monitor.c). README.md's table of channel record kinds is checked
// against these rows (test/internals/channel-table.test.ts).
//
// What may cross is deliberately poor: an order carries id, amount, currency, method,
// description and an optional one-time wallet code; outcomes carry ids and statuses; a
// refusal at the notification endpoint carries a reason, an address, a time and a count.
// No row here has a field that could hold a patient's identity or what they entered.
import { array, boolean, byName, constant, integer, number, object, oneOf, optional, string, type Admitted } from './schema.js';
import { defineChannel, RecordError, type AnyRecordOf, type Handlers, type HandledBy, type KindOf, type RecordOf, type Side } from './table.js';

export { RecordError };

export const CHANNEL_VERSION = 1;

// A record larger than this is refused by both sides before parsing: the largest real
// record (an order with a 128-character description) is well under 1 KiB.
export const MAX_RECORD_BYTES = 16 * 1024;

// What the outer side's notification endpoint refused, for the inner side's audit chain.
export const NOTIFY_REFUSAL_REASONS = [
  'NOT_FOUND', 'METHOD', 'TOO_LARGE', 'SIGNATURE_MISSING', 'SIGNATURE_MALFORMED', 'STALE', 'BAD_SIGNATURE',
  'REPLAYED', 'INVALID', 'AMOUNT_MISMATCH', 'CONFLICT', 'CONNECTIONS', 'TIMEOUT', 'BAD_HTTP',
] as const;

// The outer side's figures for the inner side's one scrape target (docs/design.md,
// "Metrics and health"): plain counts and durations under fixed names, each label value
// one of these enums. Sent every METRICS_INTERVAL_MS on the outer side's clock and as
// soon as the channel connects; the inner side takes a report older than
// METRICS_STALE_AFTER_MS for a missing one.
export const METRICS_INTERVAL_MS = 5_000;
export const METRICS_STALE_AFTER_MS = 3 * METRICS_INTERVAL_MS;
// What the outer side asks the payment server: create a payment, query its status,
// create a refund, fetch a day's statement.
export const PAYMENT_CALL_OPERATIONS = ['payment', 'status', 'refund', 'statement'] as const;
// Why a call to the payment server gave no usable answer (the payment client's result kinds).
export const PAYMENT_ERROR_KINDS = ['timeout', 'network', 'server_error', 'refused', 'replayed', 'invalid'] as const;
export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
// The notification endpoint's refusals as counted in `metrics`: those it reports itself,
// and REFUSED, a notification the inner side refused (audited there).
export const NOTIFY_METRIC_REASONS = [...NOTIFY_REFUSAL_REASONS, 'REFUSED'] as const;
// Upper bounds of the payment server's latency buckets, in seconds: a wallet code is
// answered in tens of milliseconds, the default request timeout is 10 s.
export const PAYMENT_LATENCY_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// Daily reconciliation: the inner side asks for the payment server's statement of a
// (UTC) day; the outer side answers with parts of at most STATEMENT_PART_LINES_MAX lines,
// or with statement.failed. A line carries ids, amounts and statuses only.
export const STATEMENT_PART_LINES_MAX = 40;
// A statement longer than this is refused on both sides: a day of a large hospital is
// well under it, and the inner side holds the whole statement in memory to match it.
export const STATEMENT_LINES_MAX = 200_000;

// Every id that crosses (orders, notifications, refunds, requests) has this form.
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$';
const id = string({ pattern: ID_PATTERN });
const amount = integer({ minimum: 1, maximum: 100_000_000 });
const currency = constant('CNY');
const date = string({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' });
const reason = string({ maxLength: 256 });
const text = string({ maxLength: 128, pattern: '^[^\\u0000-\\u001f]*$' });
const count = integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const seconds = number({ minimum: 0, maximum: 1e12 });
const buckets = PAYMENT_LATENCY_BUCKETS_SECONDS.length;
// Cumulative counts per upper bound (as Prometheus buckets are), then all calls and their sum.
const latency = object({ buckets: array(count, { minItems: buckets, maxItems: buckets }), count, sum: seconds });
const statementLine = object({
  kind: oneOf('payment', 'refund'),
  orderId: id,
  refundId: optional(id),
  // A statement reports what the server holds, mismatches included: 0 is possible.
  amount: integer({ minimum: 0, maximum: 100_000_000 }),
  currency,
  status: oneOf('succeeded', 'failed', 'pending'),
  at: string({ maxLength: 40, pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$' }), // ISO-8601, when the server created it
});

// `from`: the side that sends the kind (the other one receives it; `both`: the
// connection's own). `answers`: what the receiver sends back to it.
export const CHANNEL = defineChannel({
  hello: { from: 'both', answers: [], fields: { side: oneOf('inner', 'outer'), version: integer({ minimum: 1 }) } },
  heartbeat: { from: 'both', answers: [], fields: { ts: integer({ minimum: 0 }) } },
  order: {
    from: 'inner', answers: ['order.ack', 'outcome'],
    fields: { orderId: id, amount, currency, method: oneOf('code', 'qr'), description: text, authCode: optional(string({ pattern: '^[0-9]{6,12}$' })) },
  },
  'order.ack': { from: 'outer', answers: [], fields: { orderId: id } },
  outcome: {
    from: 'outer', answers: [],
    fields: {
      orderId: id, status: oneOf('succeeded', 'failed', 'pending', 'unknown'), amount: optional(amount),
      qrCode: optional(string({ maxLength: 256 })), reason: optional(reason),
    },
  },
  notification: {
    from: 'outer', answers: ['notification.ack'],
    fields: { notifyId: id, orderId: id, status: oneOf('succeeded', 'failed'), amount, currency },
  },
  // `seen` says the id was accepted before: with the same content (a duplicate, accepted
  // again without effect) or with different content (a conflict, refused).
  'notification.ack': {
    from: 'inner', answers: [],
    fields: { notifyId: id, accepted: boolean(), reason: optional(reason), seen: optional(oneOf('same', 'different')) },
  },
  // It carries only why, from where, when and how often, and the order id when the body
  // named one: nothing else of a refused body crosses. Under a flood one record counts many
  // refusals of one reason from one address (`at` is the first of them); remote `*` counts
  // the addresses beyond the outer side's bound on distinct tallies.
  'notify.refused': {
    from: 'outer', answers: [],
    fields: {
      reason: oneOf(...NOTIFY_REFUSAL_REASONS),
      // An IPv4 or IPv6 address (with a zone, for link-local), `*` or `unknown`.
      remote: string({ pattern: '^([0-9A-Fa-f:.]{2,45}(%[A-Za-z0-9_.-]{1,16})?|\\*|unknown)$' }),
      at: integer({ minimum: 0 }),
      count: integer({ minimum: 1, maximum: 1_000_000_000 }),
      orderId: optional(id),
    },
  },
  refund: { from: 'inner', answers: ['refund.outcome'], fields: { refundId: id, orderId: id, amount, currency, reason: text } },
  'refund.outcome': {
    from: 'outer', answers: [],
    fields: { refundId: id, orderId: id, status: oneOf('succeeded', 'failed', 'unknown'), amount, reason: optional(reason) },
  },
  'statement.request': { from: 'inner', answers: ['statement.part', 'statement.failed'], fields: { requestId: id, date } },
  'statement.part': {
    from: 'outer', answers: [],
    fields: {
      requestId: id, date,
      part: integer({ minimum: 0, maximum: STATEMENT_LINES_MAX }),
      last: boolean(),
      lines: array(statementLine, { maxItems: STATEMENT_PART_LINES_MAX }),
    },
  },
  'statement.failed': { from: 'outer', answers: [], fields: { requestId: id, date, reason } },
  // Counts are since the outer process started; the inner side exposes them as counters
  // (a restart of the outer side is a counter reset, which Prometheus understands).
  metrics: {
    from: 'outer', answers: [],
    fields: {
      uptimeSeconds: seconds, rssBytes: count, eventLoopLagSeconds: seconds,
      notifyListening: boolean(), breaker: oneOf(...BREAKER_STATES),
      paymentLatency: byName(PAYMENT_CALL_OPERATIONS, latency),
      paymentErrors: byName(PAYMENT_ERROR_KINDS, count),
      notifyAccepted: count,
      notifyRefused: byName(NOTIFY_METRIC_REASONS, count),
    },
  },
});

type Table = typeof CHANNEL.rows;
export type RecordKind = KindOf<Table>;
export type ChannelRecord = AnyRecordOf<Table>;
export type ChannelRecordOf<K extends RecordKind> = RecordOf<Table, K>;
// The map of handlers a side registers: one per kind its peer sends, or it does not compile.
export type ChannelHandlers<S extends Side> = Handlers<Table, S>;
export type HandledKind<S extends Side> = HandledBy<Table, S>;

export type HelloRecord = ChannelRecordOf<'hello'>;
export type HeartbeatRecord = ChannelRecordOf<'heartbeat'>;
export type OrderRecord = ChannelRecordOf<'order'>;
export type OrderAckRecord = ChannelRecordOf<'order.ack'>;
export type OutcomeRecord = ChannelRecordOf<'outcome'>;
export type NotificationRecord = ChannelRecordOf<'notification'>;
export type NotificationAckRecord = ChannelRecordOf<'notification.ack'>;
export type NotifyRefusedRecord = ChannelRecordOf<'notify.refused'>;
export type RefundRecord = ChannelRecordOf<'refund'>;
export type RefundOutcomeRecord = ChannelRecordOf<'refund.outcome'>;
export type StatementRequestRecord = ChannelRecordOf<'statement.request'>;
export type StatementPartRecord = ChannelRecordOf<'statement.part'>;
export type StatementFailedRecord = ChannelRecordOf<'statement.failed'>;
export type MetricsRecord = ChannelRecordOf<'metrics'>;
export type StatementLine = Admitted<typeof statementLine>;
export type PaymentCallOperation = typeof PAYMENT_CALL_OPERATIONS[number];
export type PaymentErrorKind = typeof PAYMENT_ERROR_KINDS[number];
export type PaymentMethod = OrderRecord['method'];
export type FinalStatus = NotificationRecord['status'];
export type NotifyRefusalReason = typeof NOTIFY_REFUSAL_REASONS[number];
export type NotifyMetricReason = typeof NOTIFY_METRIC_REASONS[number];

export const RECEIVES = CHANNEL.receives;

// Parses and validates one record for the side that receives it. Throws RecordError
// on anything that is not exactly a declared record of a kind this side may receive.
export function parseRecord(bytes: Buffer, receiver: Side): ChannelRecord {
  if (bytes.length > MAX_RECORD_BYTES) throw new RecordError(`record of ${bytes.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RecordError('record is not JSON');
  }
  return checkRecord(value, receiver);
}

export function checkRecord(value: unknown, receiver: Side): ChannelRecord {
  return CHANNEL.check(value, receiver);
}
