// The outer side's figures, counted here and sent to the inner side as a `metrics`
// channel record: plain numbers under the names of the record's enums, nothing about a
// payment or a patient. The outer side serves no metrics itself: it lives in the payment
// network's namespace, and the one scrape target is the inner side's management
// listener (docs/design.md, "Metrics and health").
import {
  BREAKER_STATES, NOTIFY_METRIC_REASONS, PAYMENT_CALL_OPERATIONS, PAYMENT_ERROR_KINDS, PAYMENT_LATENCY_BUCKETS_SECONDS,
  type MetricsRecord, type NotifyMetricReason, type PaymentCallOperation, type PaymentErrorKind,
} from '../channel/records.js';
import type { ProcessFigures } from '../common/process-figures.js';

type Latency = MetricsRecord['paymentLatency'][PaymentCallOperation];
const zeros = <const N extends readonly string[]>(names: N): { [K in N[number]]: number } =>
  Object.fromEntries(names.map((n) => [n, 0])) as { [K in N[number]]: number };

export class OuterFigures {
  private readonly latency = Object.fromEntries(PAYMENT_CALL_OPERATIONS.map((op) => [op, {
    buckets: PAYMENT_LATENCY_BUCKETS_SECONDS.map(() => 0), count: 0, sum: 0,
  }])) as Record<PaymentCallOperation, Latency>;
  private readonly errors = zeros(PAYMENT_ERROR_KINDS);
  private readonly refused = zeros(NOTIFY_METRIC_REASONS);
  private accepted = 0;

  constructor(private readonly process: ProcessFigures) {}

  // One call to the payment server: how long it took, and why it gave nothing usable.
  call(operation: PaymentCallOperation, seconds: number, error?: PaymentErrorKind): void {
    const l = this.latency[operation];
    PAYMENT_LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
      if (seconds <= le) l.buckets[i]! += 1;
    });
    l.count += 1;
    l.sum += seconds;
    if (error) this.errors[error] += 1;
  }

  error(kind: PaymentErrorKind): void {
    this.errors[kind] += 1;
  }

  notificationAccepted(): void {
    this.accepted += 1;
  }

  notificationRefused(reason: NotifyMetricReason, count = 1): void {
    this.refused[reason] += count;
  }

  record(state: { breaker: (typeof BREAKER_STATES)[number]; notifyListening: boolean }): MetricsRecord {
    const p = this.process.read();
    return {
      k: 'metrics',
      uptimeSeconds: p.uptimeSeconds, rssBytes: p.rssBytes, eventLoopLagSeconds: p.eventLoopLagSeconds,
      notifyListening: state.notifyListening, breaker: state.breaker,
      paymentLatency: structuredClone(this.latency),
      paymentErrors: { ...this.errors },
      notifyAccepted: this.accepted,
      notifyRefused: { ...this.refused },
    };
  }
}
