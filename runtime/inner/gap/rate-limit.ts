// Token buckets per device and message type: `burst` messages at once, refilled at
// `perMinute`. Kept in memory: a restart forgives, which is the safe direction.

// Buckets for devices that went quiet are dropped past this many, oldest first.
const BUCKETS_MAX = 50_000;

interface Bucket { tokens: number; updatedMs: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  take(key: string, rate: { perMinute: number; burst: number }): boolean {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= BUCKETS_MAX) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: rate.burst, updatedMs: now };
    } else {
      this.buckets.delete(key); // re-insert: Map order becomes least recently used first
    }
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.updatedMs) * rate.perMinute) / 60_000);
    bucket.updatedMs = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
