// The bench's profile summary (sim/bench/profile-summary.ts): self time by function and
// area, and with the bench's maximum-rate windows only the samples taken in them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ferryMaxWindows, summarise } from '../../sim/bench/profile-summary.js';

// Three functions; samples every 1,000 us from 10,000: `bills` before the phase, `pay`
// during it, `idle` throughout.
const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(idle)') },
    { id: 2, callFrame: frame('createBill', 'file:///x/dist/runtime/inner/billing/bills.js') },
    { id: 3, callFrame: frame('pay', 'file:///x/dist/runtime/inner/payments/pay.js') },
  ],
  startTime: 10_000,
  endTime: 30_000,
  samples: [2, 2, 2, 2, 1, 3, 3, 1, 3, 1],
  timeDeltas: [1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000, 1_000],
};

test('without a window every sample counts', () => {
  const s = summarise(profile);
  assert.equal([s.totalMs, s.idleMs], [10, 3]);
  assert.equal(s.functions.map((f) => [f.name, f.ms]), [['createBill', 4], ['pay', 3]]);
});

test('with the phase window only the samples taken in it count, and the bills made before it are gone', () => {
  const s = summarise(profile, 25, [[15_500, 20_000]]);
  assert.equal([s.totalMs, s.idleMs], [5, 2]);
  assert.equal(s.functions.map((f) => [f.name, f.pct]), [['pay', 100]]);
  assert.equal(s.areas.map((a) => a.area), ['runtime/inner/payments']);
});

test("the windows are read from a bench result's rounds, and a result without them is refused", () => {
  const results = { rounds: { lean: [{ ferry: { maxWindowUs: [1, 2] as const } }, { ferry: { maxWindowUs: [5, 9] as const } }], device: [{ ferry: { maxWindowUs: [20, 30] as const } }] } };
  assert.equal(ferryMaxWindows(results), [[1, 2], [5, 9], [20, 30]]);
  assert.throws(() => ferryMaxWindows({ rounds: { lean: [{ ferry: {} }] } }), /no maximum-rate window/);
});

test.run();
