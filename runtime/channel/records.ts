// The records that may cross the isolation gap, and nothing else. This file is the only
// place where the inner (medical) and outer (payment) sides meet: both import it, neither
// imports the other. Every record is re-validated on arrival against these schemas; a
// record that fails is a protocol violation and ends the connection (OpenSSH monitor.c).
//
// What may cross is deliberately poor: an order carries id, amount, currency, method,
// description and an optional one-time wallet code; outcomes carry ids and statuses.
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
export interface NotificationAckRecord { k: 'notification.ack'; notifyId: string; accepted: boolean; reason?: string }

export type ChannelRecord =
  | HelloRecord | HeartbeatRecord | OrderRecord | OrderAckRecord
  | OutcomeRecord | NotificationRecord | NotificationAckRecord;
export type RecordKind = ChannelRecord['k'];

const id = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' };
const amount = { type: 'integer', minimum: 1, maximum: 100_000_000 };
const currency = { const: 'CNY' };

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
  'notification.ack': obj({ notifyId: id, accepted: { type: 'boolean' }, reason: { type: 'string', maxLength: 256 } }, ['notifyId', 'accepted']),
};

function obj(properties: Record<string, object>, required: string[]): object {
  return { type: 'object', additionalProperties: false, required: ['k', ...required], properties: { k: { type: 'string' }, ...properties } };
}

// Which side may receive which kind: the table that refuses a record arriving in the
// wrong direction (an outer side cannot send an order to the inner side).
export const RECEIVES: Record<'inner' | 'outer', ReadonlySet<RecordKind>> = {
  inner: new Set<RecordKind>(['hello', 'heartbeat', 'order.ack', 'outcome', 'notification']),
  outer: new Set<RecordKind>(['hello', 'heartbeat', 'order', 'notification.ack']),
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
