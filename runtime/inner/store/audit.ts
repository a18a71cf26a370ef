import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json.js';
import { assert } from '../../common/errors.js';
import { auditKey } from './keys.js';
import { key as storeKey } from './keyspace.js';

// The audit log (invariant 6 of docs/design.md): append-only, one entry per key `audit!<seq>`,
// each entry's hash covering the previous entry's hash, so editing, deleting or
// reordering any entry breaks the chain from that point on.
//
// Retention (runtime/inner/retention/) appends an ordinary entry of kind CHECKPOINT_KIND
// carrying the seq and hash of the last entry it deletes, and deletes entries up to that
// seq in the same transaction (Tx.pruneAudit). The chain format does not change; the
// verifier starts at the entry after the checkpoint's `lastPrunedSeq`, taking
// `lastPrunedHash` as its expected prev.
export const CHECKPOINT_KIND = 'audit.checkpoint';
export const GENESIS_PREV = '0'.repeat(64);

// Names the seq of the newest checkpoint entry, so that the verifier finds it without a
// second pass. Not trusted on its own: the entry it names must verify as part of the kept
// chain and must name exactly the entry before the first one kept.
export const CHECKPOINT_POINTER_KEY = storeKey('meta', 'audit.checkpoint');

export interface Checkpoint {
  lastPrunedSeq: number;
  lastPrunedHash: string;
}

// The claim of a checkpoint entry, or undefined if `value` is not one.
export function checkpointOf(value: unknown): Checkpoint | undefined {
  if (!isEntryShape(value) || value.event.kind !== CHECKPOINT_KIND) return undefined;
  const { lastPrunedSeq, lastPrunedHash } = value.event;
  if (!Number.isSafeInteger(lastPrunedSeq) || (lastPrunedSeq as number) < 1) return undefined;
  if (typeof lastPrunedHash !== 'string' || !/^[0-9a-f]{64}$/.test(lastPrunedHash)) return undefined;
  return { lastPrunedSeq: lastPrunedSeq as number, lastPrunedHash };
}

export interface AuditEvent {
  kind: string;
  [field: string]: unknown;
}

export interface AuditEntry {
  seq: number;
  ts: string;
  prev: string;
  hash: string;
  event: AuditEvent;
}

// Where the chain stands: the last entry's seq and hash (0 and GENESIS_PREV when empty).
export interface AuditHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: AuditHead = Object.freeze({ seq: 0, hash: GENESIS_PREV });

export function hashEntry(seq: number, ts: string, prev: string, event: AuditEvent): string {
  return createHash('sha256').update(prev + canonicalJson({ seq, ts, prev, event })).digest('hex');
}

// The next entry after `head`. The event goes through a JSON round trip first so that the
// hash covers exactly what is stored and read back (a Date becomes its ISO string, an
// undefined field disappears).
export function nextEntry(head: AuditHead, event: AuditEvent, now: Date): AuditEntry {
  assert(typeof event === 'object' && event !== null, 'an audit event is an object');
  assert(typeof event.kind === 'string', 'an audit event has a string kind');
  assert(event.kind.length > 0, 'an audit event kind is not empty');
  const stored = JSON.parse(JSON.stringify(event)) as AuditEvent;
  const seq = head.seq + 1;
  const ts = now.toISOString();
  const entry = { seq, ts, prev: head.hash, hash: hashEntry(seq, ts, head.hash, stored), event: stored };
  assertEntry(entry, head);
  return entry;
}

// Assertions on an entry we are about to write: a failure is a programmer's error.
function assertEntry(entry: AuditEntry, head: AuditHead): void {
  assert(entry.seq === head.seq + 1, 'an audit entry follows the head');
  assert(entry.prev === head.hash, "an audit entry's prev is the head's hash");
  assert(/^[0-9a-f]{64}$/.test(entry.hash), 'an audit hash is 64 hex digits');
}

// Why a stored entry does not verify, or undefined if it does. `expected` is the head the
// entry must follow; `key` is where it was found. One finding per check, in the order a
// reader would want them: where it is, what it follows, what it says.
export function entryProblem(key: string, value: unknown, expected: AuditHead): string | undefined {
  if (!isEntryShape(value)) return 'malformed entry (not an audit entry object)';
  if (key !== auditKey(value.seq)) return `entry says seq ${value.seq} but is stored at ${key} (entries reordered)`;
  if (value.seq !== expected.seq + 1) return `seq gap: expected seq ${expected.seq + 1}, found ${value.seq} (entry deleted)`;
  if (value.prev !== expected.hash) return 'prev does not match the previous entry\'s hash (entry deleted or reordered)';
  if (value.hash !== hashEntry(value.seq, value.ts, value.prev, value.event)) return 'hash mismatch (content edited)';
  return undefined;
}

// The checks an entry passes on its own, without its predecessor: used when the store
// opens and continues the chain from its last entry.
export function selfProblem(key: string, value: unknown): string | undefined {
  if (!isEntryShape(value)) return 'malformed entry (not an audit entry object)';
  if (key !== auditKey(value.seq)) return `entry says seq ${value.seq} but is stored at ${key}`;
  if (value.hash !== hashEntry(value.seq, value.ts, value.prev, value.event)) return 'hash mismatch (content edited)';
  return undefined;
}

export function isEntryShape(value: unknown): value is AuditEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.seq) || (v.seq as number) < 1) return false;
  if (typeof v.ts !== 'string' || typeof v.prev !== 'string' || typeof v.hash !== 'string') return false;
  if (typeof v.event !== 'object' || v.event === null) return false;
  return typeof (v.event as Record<string, unknown>).kind === 'string';
}

// Stored entries are read as text so that a damaged one is reported, not thrown.
export function parseOrUndefined(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}
