import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, computeSignature, signRequest, verifySignature } from '../runtime/common/signature.js';

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

// Known answers, computed once outside this code base over the exact signed text
// `timestamp\nnonce\nMETHOD\npath\nbody`, e.g.
//   printf '%s\n%s\n%s\n%s\n%s' "$ts" "$nonce" POST /v1/payments "$body" | openssl dgst -sha256 -hmac "$secret"
// The same vectors are in docs/payment-server.openapi.yaml and docs/notifications.md, so a
// payment server's vendor can check an implementation against them; the relay and the
// simulator share one signing function, and these keep it honest.
const KAT_SECRET = 'ferry-kat-secret-2026';
const KAT_TIMESTAMP = 1_764_633_600;
const KATS = [
  {
    name: 'a payment request',
    nonce: '0123456789abcdef0123456789abcdef', method: 'POST', path: '/v1/payments',
    body: '{"orderId":"P20261202-kat0-000001","amount":7200,"currency":"CNY","method":"code","description":"Registration fee","authCode":"134567890123456789"}',
    signature: '75b8b6e1e29573f5eedf1829e7210ee76f099981fb9bd20c884ec460a2d86d1c',
  },
  {
    name: 'a status query (empty body)',
    nonce: '00112233445566778899aabbccddeeff', method: 'GET', path: '/v1/payments/P20261202-kat0-000001',
    body: '',
    signature: 'd51f334564649848406c83019e86cf04cc5029c6a0cf794540c6ca3ca49cb370',
  },
  {
    name: 'a notification',
    nonce: 'fedcba9876543210fedcba9876543210', method: 'POST', path: '/v1/notifications',
    body: '{"notifyId":"N-kat-0001","orderId":"P20261202-kat0-000001","status":"succeeded","amount":7200,"currency":"CNY"}',
    signature: 'e166a7f264d3a93275d57f6bdb3f1524daf094adaec7e6c96d10a9078866e68c',
  },
] as const;

for (const kat of KATS) {
  test(`${kat.name} is signed with the published known answer`, () => {
    const headers = signRequest(KAT_SECRET, kat.method, kat.path, kat.body, KAT_TIMESTAMP, kat.nonce);
    assert.equal(headers, { [TIMESTAMP_HEADER]: String(KAT_TIMESTAMP), [NONCE_HEADER]: kat.nonce, [SIGNATURE_HEADER]: kat.signature });
    assert.is(computeSignature(KAT_SECRET, String(KAT_TIMESTAMP), kat.nonce, kat.method, kat.path, kat.body), kat.signature);
  });

  test(`${kat.name} carrying the published known answer verifies, and one bit off does not`, () => {
    const received = { timestamp: String(KAT_TIMESTAMP), nonce: kat.nonce, signature: kat.signature, method: kat.method, path: kat.path, body: kat.body };
    assert.equal(verifySignature(KAT_SECRET, received, 300, KAT_TIMESTAMP), { ok: true });
    const flipped = (kat.signature[0] === '7' ? '6' : '7') + kat.signature.slice(1);
    assert.equal(verifySignature(KAT_SECRET, { ...received, signature: flipped }, 300, KAT_TIMESTAMP), { ok: false, reason: 'BAD_SIGNATURE' });
  });
}

test.run();
