// Token buckets per device and message type (runtime/inner/gap/rate-limit.ts), driven
// by an injected clock so that refill is exact and no test waits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from '../../runtime/inner/gap/rate-limit.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const rate = { perMinute: 60, burst: 5 };

test('a burst is allowed at once and the next message is refused', () => {
  const c = clock();
  const limiter = new RateLimiter(c.now);
  for (let i = 0; i < rate.burst; i++) assert.ok(limiter.take('kiosk-01', rate), `message ${i + 1}`);
  assert.not.ok(limiter.take('kiosk-01', rate));
  assert.not.ok(limiter.take('kiosk-01', rate), 'a refusal takes no token and gives none back');
});

test('tokens come back at perMinute: one a second at 60 a minute', () => {
  const c = clock();
  const limiter = new RateLimiter(c.now);
  for (let i = 0; i < rate.burst; i++) limiter.take('k', rate);
  c.advance(999);
  assert.not.ok(limiter.take('k', rate), 'not before a whole token');
  c.advance(1);
  assert.ok(limiter.take('k', rate));
  assert.not.ok(limiter.take('k', rate));
  c.advance(3_000);
  for (let i = 0; i < 3; i++) assert.ok(limiter.take('k', rate), `refilled token ${i + 1}`);
  assert.not.ok(limiter.take('k', rate));
});

test('a quiet bucket refills up to the burst and no further', () => {
  const c = clock();
  const limiter = new RateLimiter(c.now);
  for (let i = 0; i < rate.burst; i++) limiter.take('k', rate);
  c.advance(60 * 60_000);
  let allowed = 0;
  while (limiter.take('k', rate)) allowed++;
  assert.is(allowed, rate.burst);
});

test('buckets are separate per key', () => {
  const c = clock();
  const limiter = new RateLimiter(c.now);
  for (let i = 0; i < rate.burst; i++) limiter.take('kiosk-01\u0000bill.query', rate);
  assert.not.ok(limiter.take('kiosk-01\u0000bill.query', rate));
  assert.ok(limiter.take('kiosk-02\u0000bill.query', rate), 'another device has its own bucket');
  assert.ok(limiter.take('kiosk-01\u0000payment.request', rate), 'another type has its own bucket');
});

test('a slow rate refills fractionally', () => {
  const c = clock();
  const limiter = new RateLimiter(c.now);
  const slow = { perMinute: 2, burst: 1 };
  assert.ok(limiter.take('k', slow));
  c.advance(29_999);
  assert.not.ok(limiter.take('k', slow));
  c.advance(1);
  assert.ok(limiter.take('k', slow));
});

test.run();
