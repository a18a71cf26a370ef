import { hash } from 'node:crypto';
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
  return hashOfText(seq, ts, prev, canonicalJson(event));
}

// canonicalJson({ seq, ts, prev, event }) spelled out, its keys in sorted order, from the
// event's canonical text: the same bytes, so the same hash. One-shot hash: no Hash object
// per entry (verify hashes every entry of the chain).
function hashOfText(seq: number, ts: string, prev: string, eventText: string): string {
  return hash('sha256', `${prev}{"event":${eventText},"prev":${JSON.stringify(prev)},"seq":${seq},"ts":${JSON.stringify(ts)}}`, 'hex');
}

// The stored text of an entry: its fields in this order, the event last and in canonical
// form (keys sorted). Verify then hashes the event's text as it lies in the store
// (eventTextOf) instead of parsing and re-serialising it. Entries written before this
// (events in their fields' order) still verify, the slower way.
function storedText(entry: AuditEntry, eventText: string): string {
  return `{"seq":${entry.seq},"ts":${JSON.stringify(entry.ts)},"prev":${JSON.stringify(entry.prev)},"hash":${JSON.stringify(entry.hash)},"event":${eventText}}`;
}

const EVENT_FIELD = ',"event":';

// The event's text inside a stored entry, when the entry is laid out as storedText lays it
// out (nothing before the event can hold this field name: a number, an ISO time, hex).
function eventTextOf(json: string): string | undefined {
  const at = json.indexOf(EVENT_FIELD);
  return at === -1 || json.charCodeAt(json.length - 1) !== 0x7d ? undefined : json.slice(at + EVENT_FIELD.length, -1);
}

// Whether a stored entry's hash covers it. The fast path hashes the event's stored text;
// if that is not the canonical text (an entry from an earlier version, or edited), the
// parsed event is serialised canonically and hashed again, so the verdict is the same.
export function hashMatches(json: string, value: AuditEntry): boolean {
  const text = eventTextOf(json);
  if (text !== undefined && hashOfText(value.seq, value.ts, value.prev, text) === value.hash) return true;
  return hashEntry(value.seq, value.ts, value.prev, value.event) === value.hash;
}

// The quick check of a stored entry laid out as storedText lays it out, read at known
// offsets without parsing it: where it is stored, what it follows and its hash over its
// event's stored text. The new head when all hold; undefined sends the caller to
// entryProblem, which parses the entry and says what is wrong (or finds it right, for
// entries of earlier versions). A hash that matches the stored text means the text is
// what the writer hashed, and the writer hashes only events it checked (an object with
// a string kind).
export function followsQuickly(key: string, json: string, expected: AuditHead): AuditHead | undefined {
  if (!json.startsWith('{"seq":') || json.charCodeAt(json.length - 1) !== 0x7d) return undefined;
  const seqEnd = json.indexOf(',"ts":"', 7);
  if (seqEnd === -1) return undefined;
  const seq = expected.seq + 1;
  if (json.slice(7, seqEnd) !== String(seq)) return undefined;
  const tsEnd = json.indexOf('"', seqEnd + 7);
  if (tsEnd === -1) return undefined;
  const ts = json.slice(seqEnd + 7, tsEnd);
  if (ts.includes('\\')) return undefined; // without one, its JSON text is itself in quotes
  // ","prev":"<64>","hash":"<64>","event":{
  const prevAt = tsEnd + 10;
  const hashAt = prevAt + 64 + 10;
  const eventAt = hashAt + 64 + 10;
  if (!json.startsWith('","prev":"', tsEnd) || !json.startsWith('","hash":"', prevAt + 64) || !json.startsWith('","event":{', hashAt + 64)) return undefined;
  if (json.slice(prevAt, prevAt + 64) !== expected.hash || key !== auditKey(seq)) return undefined;
  const stored = json.slice(hashAt, hashAt + 64);
  const prev = expected.hash;
  const text = `${prev}{"event":${json.slice(eventAt, -1)},"prev":"${prev}","seq":${seq},"ts":"${ts}"}`;
  return hash('sha256', text, 'hex') === stored ? { seq, hash: stored } : undefined;
}

// An entry and its stored text, for Tx.audit.
export function nextEntryText(head: AuditHead, event: AuditEvent, now: Date): { entry: AuditEntry; text: string } {
  const { entry, eventText } = makeEntry(head, event, now);
  return { entry, text: storedText(entry, eventText) };
}

// The next entry after `head`. The event goes through a JSON round trip first so that the
// hash covers exactly what is stored and read back (a Date becomes its ISO string, an
// undefined field disappears).
export function nextEntry(head: AuditHead, event: AuditEvent, now: Date): AuditEntry {
  return makeEntry(head, event, now).entry;
}

function makeEntry(head: AuditHead, event: AuditEvent, now: Date): { entry: AuditEntry; eventText: string } {
  assert(typeof event === 'object' && event !== null, 'an audit event is an object');
  assert(typeof event.kind === 'string', 'an audit event has a string kind');
  assert(event.kind.length > 0, 'an audit event kind is not empty');
  const stored = JSON.parse(JSON.stringify(event)) as AuditEvent;
  const seq = head.seq + 1;
  const ts = now.toISOString();
  const eventText = canonicalJson(stored);
  const entry = { seq, ts, prev: head.hash, hash: hashOfText(seq, ts, head.hash, eventText), event: stored };
  assertEntry(entry, head);
  return { entry, eventText };
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
// `json`, the entry's stored text when the caller has it, lets the hash be checked
// without serialising the event again (hashMatches).
export function entryProblem(key: string, value: unknown, expected: AuditHead, json?: string): string | undefined {
  if (!isEntryShape(value)) return 'malformed entry (not an audit entry object)';
  if (key !== auditKey(value.seq)) return `entry says seq ${value.seq} but is stored at ${key} (entries reordered)`;
  if (value.seq !== expected.seq + 1) return `seq gap: expected seq ${expected.seq + 1}, found ${value.seq} (entry deleted)`;
  if (value.prev !== expected.hash) return 'prev does not match the previous entry\'s hash (entry deleted or reordered)';
  if (!(json !== undefined ? hashMatches(json, value) : value.hash === hashEntry(value.seq, value.ts, value.prev, value.event))) return 'hash mismatch (content edited)';
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
