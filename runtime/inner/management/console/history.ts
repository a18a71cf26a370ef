// The console's last hour: one point every 10 s of the inner side's clock, 360 points,
// kept in memory so that a page opened now already draws the hour behind it. Each point
// is read from the parts that own the figures at that instant; nothing is counted here.
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
  latencyMsSum: number;
  latencyCount: number;
  refusals: number;
  openOrders: number;
}

export interface HistoryPoint {
  t: number; // ms since the epoch, the inner side's clock
  paymentsPerMin: number; // orders that ended (paid or failed) in the last minute
  failedPerMin: number;
  latencyMs: number | null; // mean accepted → final of those, null when none ended
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
    base ??= this.samples[0] ?? { ...s, paid: 0, failed: 0, latencyMsSum: 0, latencyCount: 0, refusals: 0 };
    const ended = s.latencyCount - base.latencyCount;
    return {
      t: s.t,
      paymentsPerMin: s.paid + s.failed - base.paid - base.failed,
      failedPerMin: s.failed - base.failed,
      latencyMs: ended > 0 ? Math.round((s.latencyMsSum - base.latencyMsSum) / ended) : null,
      refusalsPerMin: s.refusals - base.refusals,
      openOrders: s.openOrders,
    };
  }
}
