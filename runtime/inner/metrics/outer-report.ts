// The outer side's last `metrics` record, as the inner side holds it: mirrored into the
// registry while it is fresh, and read for the outer side's readiness. A report older
// than METRICS_STALE_AFTER_MS, or one from a channel that is down, is not presented as
// live: ferry_outer_up is 0 and the outer side's series are left out.
import {
  BREAKER_STATES, METRICS_STALE_AFTER_MS, NOTIFY_METRIC_REASONS, PAYMENT_CALL_OPERATIONS, PAYMENT_ERROR_KINDS,
  PAYMENT_LATENCY_BUCKETS_SECONDS, type MetricsRecord,
} from '../../channel/records.js';
import type { Clock } from '../../common/clock.js';
import type { InnerMetrics, MirrorSample } from './registry.js';

export interface Check { name: string; ok: boolean; detail: string }

export class OuterReport {
  private last: { record: MetricsRecord; atMs: number } | undefined;

  constructor(private readonly clock: Clock, private readonly connected: () => boolean) {}

  received(record: MetricsRecord): void {
    this.last = { record, atMs: this.clock.now() };
  }

  // The last report, if the channel is up and the report is recent.
  fresh(): MetricsRecord | undefined {
    if (!this.last || !this.connected()) return undefined;
    return this.clock.now() - this.last.atMs <= METRICS_STALE_AFTER_MS ? this.last.record : undefined;
  }

  ageSeconds(): number | undefined {
    return this.last ? Math.max(0, (this.clock.now() - this.last.atMs) / 1000) : undefined;
  }

  // The outer side's readiness, from what it last said of itself.
  checks(): Check[] {
    const r = this.fresh();
    const age = this.ageSeconds();
    const channel = this.connected();
    return [
      { name: 'channel', ok: channel, detail: channel ? 'the outer side is connected' : 'the outer side is not connected' },
      {
        name: 'report', ok: r !== undefined,
        detail: r ? `last figures ${age!.toFixed(1)} s ago` : age === undefined ? 'no figures received yet' : `last figures ${age.toFixed(1)} s ago: stale`,
      },
      { name: 'notify', ok: r?.notifyListening === true, detail: r ? (r.notifyListening ? 'notification endpoint listening' : 'notification endpoint not listening') : 'unknown' },
      { name: 'breaker', ok: r !== undefined && r.breaker !== 'open', detail: r ? `payment server breaker ${r.breaker}` : 'unknown' },
    ];
  }

  // Mirrors the report's figures into the registry, while they are fresh.
  register(metrics: InnerMetrics): void {
    const when = (read: (r: MetricsRecord) => MirrorSample[]) => () => {
      const r = this.fresh();
      return r ? read(r) : [];
    };
    metrics.read('ferry_outer_up', () => [{ labels: {}, value: this.fresh() ? 1 : 0 }]);
    metrics.read('ferry_outer_report_age_seconds', () => {
      const age = this.ageSeconds();
      return age === undefined ? [] : [{ labels: {}, value: age }];
    });
    metrics.mirror('ferry_payment_server_request_duration_seconds', when((r) => PAYMENT_CALL_OPERATIONS.map((operation) => {
      const l = r.paymentLatency[operation];
      return { labels: { operation }, buckets: PAYMENT_LATENCY_BUCKETS_SECONDS.map((le, i) => [le, l.buckets[i] ?? 0] as const), count: l.count, sum: l.sum };
    })));
    metrics.mirror('ferry_payment_server_errors_total', when((r) => PAYMENT_ERROR_KINDS.map((kind) => ({ labels: { kind }, value: r.paymentErrors[kind] }))));
    metrics.mirror('ferry_payment_server_breaker_state', when((r) => BREAKER_STATES.map((state) => ({ labels: { state }, value: r.breaker === state ? 1 : 0 }))));
    metrics.mirror('ferry_notifications_accepted_total', when((r) => [{ labels: {}, value: r.notifyAccepted }]));
    metrics.mirror('ferry_notifications_refused_total', when((r) => NOTIFY_METRIC_REASONS.map((reason) => ({ labels: { reason }, value: r.notifyRefused[reason] }))));
  }

  // The outer process's own figures, for the per-side process gauges.
  processSamples(): Array<{ uptime: number; rss: number; lag: number }> {
    const r = this.fresh();
    return r ? [{ uptime: r.uptimeSeconds, rss: r.rssBytes, lag: r.eventLoopLagSeconds }] : [];
  }
}
