import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signRequest, verifySignature } from '../runtime/common/signature.js';

const SECRET = 'test-secret-0123456789';
const NOW = 1_750_000_000;
const BODY = '{"orderId":"o-1","amount":1200}';

function parts(headers: Record<string, string>, over: Partial<{ method: string; path: string; body: string }> = {}) {
  return {
    timestamp: headers[TIMESTAMP_HEADER], signature: headers[SIGNATURE_HEADER], nonce: headers[NONCE_HEADER],
    method: 'POST', path: '/v1/payments', body: BODY, ...over,
  };
}

test('a request signed with the shared secret verifies', () => {
  const headers = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  assert.equal(headers[TIMESTAMP_HEADER], String(NOW));
  assert.match(headers[SIGNATURE_HEADER]!, /^[0-9a-f]{64}$/);
  assert.equal(verifySignature(SECRET, parts(headers), 300, NOW + 10), { ok: true });
});

test('a changed body, method or path no longer verifies', () => {
  const headers = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  assert.equal(verifySignature(SECRET, parts(headers, { body: BODY.replace('1200', '1') }), 300, NOW), { ok: false, reason: 'BAD_SIGNATURE' });
  assert.equal(verifySignature(SECRET, parts(headers, { method: 'PUT' }), 300, NOW), { ok: false, reason: 'BAD_SIGNATURE' });
  assert.equal(verifySignature(SECRET, parts(headers, { path: '/v1/refunds' }), 300, NOW), { ok: false, reason: 'BAD_SIGNATURE' });
});

test('a signature made with another secret is refused', () => {
  const headers = signRequest('another-secret', 'POST', '/v1/payments', BODY, NOW);
  assert.equal(verifySignature(SECRET, parts(headers), 300, NOW), { ok: false, reason: 'BAD_SIGNATURE' });
});

test('a timestamp beyond the tolerance is stale, in the past and in the future', () => {
  const headers = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  assert.equal(verifySignature(SECRET, parts(headers), 300, NOW + 301), { ok: false, reason: 'STALE' });
  assert.equal(verifySignature(SECRET, parts(headers), 300, NOW - 301), { ok: false, reason: 'STALE' });
  assert.equal(verifySignature(SECRET, parts(headers), 300, NOW + 300), { ok: true });
});

test('missing or malformed signature headers are refused', () => {
  const headers = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  assert.equal(verifySignature(SECRET, { ...parts(headers), signature: undefined }, 300, NOW), { ok: false, reason: 'MISSING' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), timestamp: undefined }, 300, NOW), { ok: false, reason: 'MISSING' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), signature: 'abc' }, 300, NOW), { ok: false, reason: 'MALFORMED' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), signature: headers[SIGNATURE_HEADER]!.toUpperCase() }, 300, NOW), { ok: false, reason: 'MALFORMED' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), timestamp: '17e8' }, 300, NOW), { ok: false, reason: 'MALFORMED' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), nonce: undefined }, 300, NOW), { ok: false, reason: 'MISSING' });
  assert.equal(verifySignature(SECRET, { ...parts(headers), nonce: 'not-hex' }, 300, NOW), { ok: false, reason: 'MALFORMED' });
});

test('two signings of the same request in the same second differ, and the nonce is bound', () => {
  const first = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  const second = signRequest(SECRET, 'POST', '/v1/payments', BODY, NOW);
  assert.is.not(first[NONCE_HEADER], second[NONCE_HEADER]);
  assert.is.not(first[SIGNATURE_HEADER], second[SIGNATURE_HEADER]);
  assert.equal(verifySignature(SECRET, { ...parts(first), nonce: second[NONCE_HEADER] }, 300, NOW), { ok: false, reason: 'BAD_SIGNATURE' });
});

test.run();
