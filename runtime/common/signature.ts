// Request signing shared by the relay, the notification endpoint and the payment-server
// simulator. The signed text binds the timestamp, a per-request nonce, the method, path
// and body, so a captured signature cannot be moved to another request; the timestamp
// bounds how long a captured request can be replayed (the receiver keeps a replay cache
// for that window), and the nonce makes every attempt unique, so a retry within the same
// second is not mistaken for a replay.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert } from './errors.js';

export const TIMESTAMP_HEADER = 'x-ferry-timestamp';
export const SIGNATURE_HEADER = 'x-ferry-signature';
export const NONCE_HEADER = 'x-ferry-nonce';

// Five minutes either way: what NTP-synchronised hosts never exceed, short enough that
// the replay cache covering the window stays small.
export const SIGNATURE_TOLERANCE_SEC_DEFAULT = 300;

// Seconds since the epoch fit in 11 digits until the year 5138; anything longer is junk.
const TIMESTAMP_PATTERN = /^[0-9]{1,11}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
// 16 random bytes in hex: a collision within the tolerance window is never expected.
const NONCE_PATTERN = /^[0-9a-f]{32}$/;

export type SignatureFailure = 'MISSING' | 'MALFORMED' | 'STALE' | 'BAD_SIGNATURE';
export type VerifyResult = { ok: true } | { ok: false; reason: SignatureFailure };

export interface SignedParts {
  timestamp: string | undefined;
  signature: string | undefined;
  nonce: string | undefined;
  method: string;
  path: string;
  body: string;
}

// The wall clock, never a side's injected one: the other party checks the timestamp
// against its own clock, so a test clock running faster must not move it.
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

// Nonces are drawn from a pool of random bytes refilled 256 nonces at a time: one call
// into the CSPRNG per 256 requests instead of one per request. A nonce is no secret
// (it travels in a header); it only has to be unpredictable and unique, as before.
const NONCE_BYTES = 16;
const NONCE_POOL_BYTES = 256 * NONCE_BYTES;
let noncePool = Buffer.alloc(0);
let nonceOffset = 0;

export function newNonce(): string {
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    nonceOffset = 0;
  }
  const nonce = noncePool.toString('hex', nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

export function computeSignature(secret: string, timestamp: string, nonce: string, method: string, path: string, body: string): string {
  assert(secret.length > 0, 'signing secret is not empty');
  assert(TIMESTAMP_PATTERN.test(timestamp), 'timestamp is unix seconds');
  assert(NONCE_PATTERN.test(nonce), 'nonce is 32 lowercase hex digits');
  assert(path.startsWith('/'), 'path is absolute');
  return createHmac('sha256', secret).update(`${timestamp}\n${nonce}\n${method.toUpperCase()}\n${path}\n${body}`, 'utf8').digest('hex');
}

// Returns the three headers to send with a request (or a notification) of this content.
// Call it once per attempt: each call draws a fresh nonce.
export function signRequest(secret: string, method: string, path: string, body: string, nowSec = nowSeconds(), nonce = newNonce()): Record<string, string> {
  assert(Number.isSafeInteger(nowSec) && nowSec >= 0, 'nowSec is a non-negative integer');
  const timestamp = String(nowSec);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: computeSignature(secret, timestamp, nonce, method, path, body),
  };
}

// The signed parts of a received request, from its headers.
export function signedParts(headers: Record<string, string | string[] | undefined>, method: string, path: string, body: string): SignedParts {
  return {
    timestamp: singleHeader(headers[TIMESTAMP_HEADER]),
    nonce: singleHeader(headers[NONCE_HEADER]),
    signature: singleHeader(headers[SIGNATURE_HEADER]),
    method, path, body,
  };
}

export function verifySignature(secret: string, parts: SignedParts, toleranceSec: number, nowSec = nowSeconds()): VerifyResult {
  assert(toleranceSec >= 0, 'tolerance is not negative');
  const { timestamp, signature, nonce } = parts;
  if (timestamp === undefined || signature === undefined || nonce === undefined) return { ok: false, reason: 'MISSING' };
  if (!TIMESTAMP_PATTERN.test(timestamp) || !SIGNATURE_PATTERN.test(signature) || !NONCE_PATTERN.test(nonce)) return { ok: false, reason: 'MALFORMED' };
  if (Math.abs(nowSec - Number(timestamp)) > toleranceSec) return { ok: false, reason: 'STALE' };
  if (!parts.path.startsWith('/')) return { ok: false, reason: 'MALFORMED' };
  const expected = Buffer.from(computeSignature(secret, timestamp, nonce, parts.method, parts.path, parts.body), 'hex');
  const given = Buffer.from(signature, 'hex');
  // Both are 32 bytes here (the pattern above), which timingSafeEqual requires.
  if (!timingSafeEqual(expected, given)) return { ok: false, reason: 'BAD_SIGNATURE' };
  return { ok: true };
}

// Node gives a repeated header as an array; a signed request has exactly one of each.
export function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
