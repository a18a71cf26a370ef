// The bench's tail report (sim/bench/tail-report.ts) groups the slow requests of an open
// loop into episodes and sets beside each what the processes' stall probes saw then.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { episodes } from '../../sim/bench/tail-report.js';

test('slow requests close in time make one episode, with the stalls just before and during it', () => {
  const samples: Array<[number, number]> = [
    [1_000, 3], [1_010, 45], [1_050, 30], [1_100, 4], // one episode: 1_010-1_050
    [2_000, 60], // another, far from the first
    [3_000, 2],
  ];
  const events: Array<[number, string]> = [[950, 'inner/main stall 40'], [1_500, 'outer/main gc-minor 6'], [2_030, 'payment-server/process stall 12']];
  const eps = episodes(samples, events, 20);
  assert.equal(eps.length, 2);
  assert.equal([eps[0]!.slow, eps[0]!.worstMs, eps[0]!.events], [2, 45, ['-60 ms inner/main stall 40']]);
  assert.equal([eps[1]!.slow, eps[1]!.worstMs, eps[1]!.events], [1, 60, ['+30 ms payment-server/process stall 12']]);
});

test('a run with nothing over the threshold has no episode', () => {
  assert.equal(episodes([[1, 5], [2, 19.9]], [[1, 'inner/main stall 50']], 20), []);
});

test.run();
