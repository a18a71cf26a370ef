import { assert } from '../../common/errors.js';
import { KEYSPACE } from './keyspace.js';

export const AUDIT_PREFIX = KEYSPACE.audit.prefix;
const AUDIT_SEQ_DIGITS = 16;
const MAX_CODE_POINT = 0x10ffff;
const SURROGATE_FIRST = 0xd800;
const SURROGATE_END = 0xe000;

// LevelDB orders keys by their UTF-8 bytes, which is code point order. JavaScript's `<`
// compares UTF-16 units and disagrees above U+D7FF, so merging the overlay with disk
// results uses this instead.
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// The smallest key greater than every key starting with `prefix`: the prefix with its last
// code point incremented. Undefined for the empty prefix (no upper bound).
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix);
  const last = points.pop();
  if (last === undefined) return undefined;
  let code = last.codePointAt(0)! + 1;
  if (code === SURROGATE_FIRST) code = SURROGATE_END;
  assert(code <= MAX_CODE_POINT, 'a key prefix does not end in U+10FFFF');
  return points.join('') + String.fromCodePoint(code);
}

export function auditKey(seq: number): string {
  assert(Number.isSafeInteger(seq), 'audit seq is a safe integer');
  assert(seq >= 1, 'audit seq starts at 1');
  return AUDIT_PREFIX + String(seq).padStart(AUDIT_SEQ_DIGITS, '0');
}

// An audit entry whose event names an order, under that order: `auditOf!{orderId}!{seq}`.
// Written by Tx.audit with the entry and deleted by audit pruning with it, so `ferry
// query audit --order` reads a few keys instead of the whole chain.
export function auditOfKey(orderId: string, seq: number): string {
  return `${KEYSPACE.auditOf.prefix}${orderId}!${String(seq).padStart(AUDIT_SEQ_DIGITS, '0')}`;
}

// The order an audit event names, when it is one an index can hold (ids never hold `!`).
export function auditedOrderOf(event: Readonly<Record<string, unknown>>): string | undefined {
  const id = event.orderId;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 && !id.includes('!') ? id : undefined;
}

// The seq an audit key names, or undefined if the key is not a well-formed audit key.
export function seqOfAuditKey(key: string): number | undefined {
  const digits = key.slice(AUDIT_PREFIX.length);
  if (!key.startsWith(AUDIT_PREFIX)) return undefined;
  if (!/^[0-9]{16}$/.test(digits)) return undefined;
  const seq = Number(digits);
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined;
}

export function assertUserKey(key: string): void {
  assert(typeof key === 'string', 'a key is a string');
  assert(key.length > 0, 'a key is not empty');
  // The audit log is append-only: only Tx.audit writes under its prefix.
  assert(!key.startsWith(AUDIT_PREFIX), 'only Tx.audit writes audit! keys');
}
