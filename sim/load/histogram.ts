// Latency percentiles in bounded memory, the way HdrHistogram does it: values are
// counted in buckets whose width grows with the value, so every bucket is within
// 1/SUB_BUCKETS of the values it holds, whatever the number of samples.
import { assert } from '../../runtime/common/errors.js';

// 32 buckets per power of two: a reported percentile is within 3 % of the true one.
const SUB_BUCKET_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
// Values are kept in microseconds up to 2^27 µs (about 134 s); a longer wait is clamped
// (no request in a load run waits that long: the device client gives up at 15 s).
const MAGNITUDES = 27 - SUB_BUCKET_BITS + 1;
const VALUE_US_MAX = 2 ** 27 - 1;

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(MAGNITUDES * SUB_BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  recordMs(ms: number): void {
    assert(Number.isFinite(ms), 'a latency is a finite number');
    const us = Math.min(VALUE_US_MAX, Math.max(0, Math.round(ms * 1000)));
    this.counts[indexOf(us)]! += 1;
    this.total += 1;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  // The value (ms) at or below which p percent of the samples lie; 0 with no samples.
  percentileMs(p: number): number {
    assert(p >= 0 && p <= 100, 'a percentile is between 0 and 100');
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i += 1) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperOf(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): Percentiles {
    return {
      count: this.total,
      p50: round(this.percentileMs(50)), p95: round(this.percentileMs(95)), p99: round(this.percentileMs(99)),
      max: round(this.maxUs / 1000), mean: round(this.total ? this.sumUs / this.total / 1000 : 0),
    };
  }
}

// Values below SUB_BUCKETS have a bucket each; above, each power of two is cut into
// SUB_BUCKETS equal buckets.
function indexOf(us: number): number {
  if (us < SUB_BUCKETS) return us;
  const magnitude = (31 - Math.clz32(us)) - SUB_BUCKET_BITS + 1;
  const sub = Math.floor(us / 2 ** magnitude) - SUB_BUCKETS / 2;
  return magnitude * SUB_BUCKETS / 2 + SUB_BUCKETS / 2 + sub;
}

function upperOf(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const magnitude = Math.floor((index - SUB_BUCKETS / 2) / (SUB_BUCKETS / 2));
  const sub = (index - SUB_BUCKETS / 2) % (SUB_BUCKETS / 2) + SUB_BUCKETS / 2;
  return (sub + 1) * 2 ** magnitude - 1;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
