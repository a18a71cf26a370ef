// The console's last hour: one point every 10 s of the inner side's clock, 360 points,
// kept in memory so that a page opened now already draws the hour behind it. Each point
// is read from the metrics registry at that instant (running totals, levels); nothing is
// counted here, the rates are differences of the registry's counters.
import type { Clock, ClockTimer } from '../../../common/clock.js';

export const CONSOLE_HISTORY_LIMITS = Object.freeze({
  // One point per this; the charts' resolution.
  everyMs: 10_000,
  // Points kept: an hour at everyMs.
  points: 360,
  // The window of a rate: "per minute" is what happened in the last minute.
  rateWindowMs: 60_000,
});

// What the sampler reads at each point: running totals since start, and a level.
export interface HistoryReading {
  paid: number;
  failed: number;
  // The payment server's answers to payments, as the outer side last reported them:
  // null while there is no fresh report (the outer side away). The outer side's own
  // totals, so they start again when it restarts.
  latency: { msSum: number; count: number } | null;
  refusals: number;
  openOrders: number;
}

export interface HistoryPoint {
  t: number; // ms since the epoch, the inner side's clock
  paymentsPerMin: number; // orders that ended (paid or failed) in the last minute
  failedPerMin: number;
  latencyMs: number | null; // mean time of the payment server's answers to payments in the last minute; null: none, or not reported
  refusalsPerMin: number;
  openOrders: number;
}

interface Sample extends HistoryReading { t: number }

export class History {
  private readonly samples: Sample[] = [];
  private readonly points: HistoryPoint[] = [];
  private timer: ClockTimer | undefined;

  constructor(private readonly clock: Clock, private readonly read: () => Promise<HistoryReading>, private readonly onError: (err: Error) => void) {}

  start(): void {
    void this.sample();
    this.timer = this.clock.setInterval(() => void this.sample(), CONSOLE_HISTORY_LIMITS.everyMs);
    this.timer.unref();
  }

  close(): void {
    this.clock.clearInterval(this.timer);
  }

  recent(): readonly HistoryPoint[] {
    return this.points;
  }

  // The figures of this instant, as a point (the snapshot's "now", not kept).
  async now(): Promise<HistoryPoint> {
    return this.pointOf({ t: this.clock.now(), ...(await this.read()) });
  }

  private async sample(): Promise<void> {
    try {
      const sample = { t: this.clock.now(), ...(await this.read()) };
      const point = this.pointOf(sample);
      this.samples.push(sample);
      this.points.push(point);
      // The samples are kept one window longer than the points need.
      const keepSamples = CONSOLE_HISTORY_LIMITS.points + Math.ceil(CONSOLE_HISTORY_LIMITS.rateWindowMs / CONSOLE_HISTORY_LIMITS.everyMs) + 1;
      if (this.samples.length > keepSamples) this.samples.splice(0, this.samples.length - keepSamples);
      if (this.points.length > CONSOLE_HISTORY_LIMITS.points) this.points.splice(0, this.points.length - CONSOLE_HISTORY_LIMITS.points);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  // Rates over the last window: against the newest sample at least a window old (or
  // the first one, while the side has run less than a window).
  private pointOf(s: Sample): HistoryPoint {
    const since = s.t - CONSOLE_HISTORY_LIMITS.rateWindowMs;
    let base: Sample | undefined;
    for (let i = this.samples.length - 1; i >= 0; i--) {
      if (this.samples[i]!.t <= since) {
        base = this.samples[i];
        break;
      }
    }
    base ??= this.samples[0] ?? { ...s, paid: 0, failed: 0, latency: { msSum: 0, count: 0 }, refusals: 0 };
    return {
      t: s.t,
      paymentsPerMin: s.paid + s.failed - base.paid - base.failed,
      failedPerMin: s.failed - base.failed,
      latencyMs: meanSince(s.latency, base.latency),
      refusalsPerMin: s.refusals - base.refusals,
      openOrders: s.openOrders,
    };
  }
}

// The mean of what was added between two readings of a running sum and count. A base
// without a report (the outer side was away) or with more than now (it restarted)
// counts from zero.
function meanSince(now: HistoryReading['latency'], base: HistoryReading['latency']): number | null {
  if (!now) return null;
  const from = base && base.count <= now.count && base.msSum <= now.msSum ? base : { msSum: 0, count: 0 };
  const count = now.count - from.count;
  return count > 0 ? Math.round((now.msSum - from.msSum) / count) : null;
}
