// The clocks that the composition roots take, and the seeded jitter: no sockets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clockEnv, clockFromEnv, ManualClock, ScaledClock, sleepOn, systemClock, type Clock, type ClockTimer } from '../../runtime/common/clock.js';
import { seededRandom, systemRandom } from '../../runtime/common/random.js';
import { backoffDelayMs, sleep } from '../../runtime/common/backoff.js';

test('a manual clock fires its timers in due order as it is advanced, each seeing its own due time', async () => {
  const clock = new ManualClock(1_000);
  const fired: Array<[string, number]> = [];
  clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
  clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
  const never = clock.setTimeout(() => fired.push(['cleared', clock.now()]), 150);
  clock.clearTimeout(never);
  await clock.advance(150);
  assert.equal(fired, [['a', 1_100]]);
  assert.is(clock.now(), 1_150);
  await clock.advance(1_000);
  assert.equal(fired, [['a', 1_100], ['b', 1_200]]);
  assert.is(clock.now(), 2_150);
  assert.is(clock.pending, 0);
});

test('a manual interval repeats until cleared, and a timer set by a timer fires within the same advance', async () => {
  const clock = new ManualClock(0);
  const ticks: number[] = [];
  const every = clock.setInterval(() => ticks.push(clock.now()), 100);
  clock.setTimeout(() => clock.setTimeout(() => ticks.push(-clock.now()), 50), 120);
  await clock.advance(350);
  assert.equal(ticks, [100, -170, 200, 300]);
  clock.clearInterval(every);
  await clock.advance(1_000);
  assert.is(ticks.length, 4, 'no tick after clearInterval');
});

test('a sleep on a manual clock ends when the clock reaches it, and at once on abort', async () => {
  const clock = new ManualClock(0);
  let woke = false;
  const slept = sleepOn(clock, 5_000).then(() => (woke = true));
  await clock.advance(4_999);
  assert.is(woke, false);
  await clock.advance(1);
  await slept;
  assert.is(woke, true);
  const abort = new AbortController();
  const aborted = sleep(60_000, abort.signal, clock);
  abort.abort();
  await aborted;
  assert.is(clock.pending, 0, 'the aborted sleep left no timer');
});

test('a manual clock refuses to go backwards', async () => {
  const clock = new ManualClock(0);
  try {
    await clock.advance(-1);
    assert.unreachable('went backwards');
  } catch (err) {
    assert.instance(err, RangeError);
  }
});

// A stand-in for real time, moved by hand, to see what a scaled clock does with it.
class HandClock implements Clock {
  at = 10_000;
  readonly set: Array<{ fn: () => void; ms: number }> = [];
  now(): number {
    return this.at;
  }
  setTimeout(fn: () => void, ms: number): ClockTimer {
    const t = { fn, ms, unref: () => t };
    this.set.push(t);
    return t;
  }
  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.setTimeout(fn, ms);
  }
  clearTimeout(): void {}
  clearInterval(): void {}
}

test('a clock scaled by N tells N times the real time elapsed and sets timers at a real delay of ms / N', () => {
  const real = new HandClock();
  const fast = new ScaledClock(20, real);
  assert.is(fast.now(), 10_000, 'it starts at the real time');
  real.at += 500;
  assert.is(fast.now(), 10_000 + 500 * 20);
  fast.setTimeout(() => {}, 10_000);
  fast.setInterval(() => {}, 1_000);
  assert.equal(real.set.map((t) => t.ms), [500, 50]);
});

test('a scaled clock over the system clock really fires sooner than its timers say', async () => {
  const fast = new ScaledClock(50);
  const t0 = Date.now();
  const c0 = fast.now();
  await sleepOn(fast, 2_500);
  const realMs = Date.now() - t0;
  assert.ok(realMs < 1_000, `2.5 s of the clock took ${realMs} ms of real time`);
  assert.ok(fast.now() - c0 >= 2_500 - 50, `the clock itself moved ${fast.now() - c0} ms`);
});

test('a scaled clock needs a positive factor', () => {
  for (const bad of [0, -2, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => new ScaledClock(bad), RangeError);
});

test("a process started with a simulation's clock in its environment tells the same time as the simulation; without it, real time", () => {
  const real = new HandClock();
  const sim = new ScaledClock(4, real);
  const env = clockEnv(sim);
  real.at += 1_000;
  const side = clockFromEnv(env);
  assert.instance(side, ScaledClock);
  assert.is((side as ScaledClock).factor, 4);
  assert.is((side as ScaledClock).startMs, sim.startMs, "both count from the simulation's start");
  const live = new ScaledClock(4, systemClock, Date.now() - 60_000);
  const liveSide = clockFromEnv(clockEnv(live));
  assert.ok(Math.abs(liveSide.now() - live.now()) < 50, `${liveSide.now()} vs ${live.now()}`);
  assert.ok(live.now() - Date.now() > 150_000, 'four minutes of its time passed in one real minute');
  assert.is(clockFromEnv({}), systemClock);
  assert.throws(() => clockFromEnv({ FERRY_CLOCK_SPEED: 'fast' }), RangeError);
  assert.throws(() => clockFromEnv({ FERRY_CLOCK_SPEED: '4', FERRY_CLOCK_START_MS: 'soon' }), RangeError);
});

test('an installed gateway (NODE_ENV=production) refuses a simulation clock', () => {
  assert.throws(() => clockFromEnv({ FERRY_CLOCK_SPEED: '4', NODE_ENV: 'production' }), /system clock only/);
  assert.is(clockFromEnv({ NODE_ENV: 'production' }), systemClock);
});

test('the system clock is the real one', async () => {
  const before = Date.now();
  assert.ok(Math.abs(systemClock.now() - before) < 50);
  await sleepOn(systemClock, 5);
  assert.ok(systemClock.now() - before >= 4);
});

test('the same seed gives the same jitter sequence, another seed another one, all within [0, 1)', () => {
  const draw = (r: () => number) => Array.from({ length: 1_000 }, r);
  const a = draw(seededRandom(42));
  const b = draw(seededRandom(42));
  const c = draw(seededRandom(43));
  assert.equal(a, b);
  assert.not.equal(a, c);
  for (const x of [...a, ...c]) assert.ok(x >= 0 && x < 1, `${x} is in [0, 1)`);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(mean > 0.45 && mean < 0.55, `roughly uniform (mean ${mean})`);
  assert.ok(new Set(a).size > 990, 'hardly repeats');
});

test('backoff delays from a seeded source repeat exactly, and stay under the capped ceiling', () => {
  const delays = (seed: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: 12 }, (_, attempt) => backoffDelayMs(attempt, { baseMs: 250, maxMs: 30_000, random }));
  };
  assert.equal(delays(7), delays(7));
  assert.not.equal(delays(7), delays(8));
  delays(7).forEach((d, attempt) => assert.ok(d >= 0 && d < Math.min(30_000, 250 * 2 ** attempt), `attempt ${attempt}: ${d}`));
});

test('two sources seeded from the system differ', () => {
  const a = Array.from({ length: 8 }, systemRandom());
  const b = Array.from({ length: 8 }, systemRandom());
  assert.not.equal(a, b);
});

test.run();
