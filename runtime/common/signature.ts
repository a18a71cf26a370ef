// Request signing shared by the relay, the notification endpoint and the payment-server
// simulator (DESIGN.md "Payment side"). The signed text binds the timestamp, method,
// path and body, so a captured signature cannot be moved to another request, and the
// timestamp bounds how long a captured request can be replayed (the receiver keeps a
// replay cache for that window).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assert } from './errors.js';

export const TIMESTAMP_HEADER = 'x-ferry-timestamp';
export const SIGNATURE_HEADER = 'x-ferry-signature';

// Five minutes either way: what NTP-synchronised hosts never exceed, short enough that
// the replay cache covering the window stays small.
export const SIGNATURE_TOLERANCE_SEC_DEFAULT = 300;

// Seconds since the epoch fit in 11 digits until the year 5138; anything longer is junk.
const TIMESTAMP_PATTERN = /^[0-9]{1,11}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

export type SignatureFailure = 'MISSING' | 'MALFORMED' | 'STALE' | 'BAD_SIGNATURE';
export type VerifyResult = { ok: true } | { ok: false; reason: SignatureFailure };

export interface SignedParts {
  timestamp: string | undefined;
  signature: string | undefined;
  method: string;
  path: string;
  body: string;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function computeSignature(secret: string, timestamp: string, method: string, path: string, body: string): string {
  assert(secret.length > 0, 'signing secret is not empty');
  assert(TIMESTAMP_PATTERN.test(timestamp), 'timestamp is unix seconds');
  assert(path.startsWith('/'), 'path is absolute');
  return createHmac('sha256', secret).update(`${timestamp}\n${method.toUpperCase()}\n${path}\n${body}`, 'utf8').digest('hex');
}

// Returns the two headers to send with a request (or a notification) of this content.
export function signRequest(secret: string, method: string, path: string, body: string, nowSec = nowSeconds()): Record<string, string> {
  assert(Number.isSafeInteger(nowSec) && nowSec >= 0, 'nowSec is a non-negative integer');
  const timestamp = String(nowSec);
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: computeSignature(secret, timestamp, method, path, body) };
}

export function verifySignature(secret: string, parts: SignedParts, toleranceSec: number, nowSec = nowSeconds()): VerifyResult {
  assert(toleranceSec >= 0, 'tolerance is not negative');
  const { timestamp, signature } = parts;
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: 'MISSING' };
  if (!TIMESTAMP_PATTERN.test(timestamp) || !SIGNATURE_PATTERN.test(signature)) return { ok: false, reason: 'MALFORMED' };
  if (Math.abs(nowSec - Number(timestamp)) > toleranceSec) return { ok: false, reason: 'STALE' };
  if (!parts.path.startsWith('/')) return { ok: false, reason: 'MALFORMED' };
  const expected = Buffer.from(computeSignature(secret, timestamp, parts.method, parts.path, parts.body), 'hex');
  const given = Buffer.from(signature, 'hex');
  // Both are 32 bytes here (the pattern above), which timingSafeEqual requires.
  if (!timingSafeEqual(expected, given)) return { ok: false, reason: 'BAD_SIGNATURE' };
  return { ok: true };
}

// Node gives a repeated header as an array; a signed request has exactly one of each.
export function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
