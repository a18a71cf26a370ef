// The inner side's metrics: one prom-client Registry per running inner side (not the
// global default one, so that in-process test gateways never share a counter), built
// from the METRICS table. Events are counted with count()/observe(); a state gauge is
// given a reader with read(), which the registry calls at scrape time, so the state is
// kept only by the part that owns it; the outer side's figures are mirrored from its
// last channel report by mirror().
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LABEL_VALUE_PATTERN, METRICS, STORE_BATCH_WRITES_BUCKETS, STORE_COMMIT_BUCKETS_SECONDS, type LabelsOf, type MetricName } from './table.js';

type NamesOf<T extends string> = { [N in MetricName]: (typeof METRICS)[N]['type'] extends T ? N : never }[MetricName];
export type CounterName = Extract<NamesOf<'counter'>, { [N in MetricName]: (typeof METRICS)[N]['source'] extends 'event' ? N : never }[MetricName]>;
export type HistogramName = Extract<NamesOf<'histogram'>, { [N in MetricName]: (typeof METRICS)[N]['source'] extends 'event' ? N : never }[MetricName]>;
export type ReadName = { [N in MetricName]: (typeof METRICS)[N]['source'] extends 'state' | 'process' ? N : never }[MetricName];
export type MirrorName = { [N in MetricName]: (typeof METRICS)[N]['source'] extends 'outer' ? N : never }[MetricName];

export type LabelValues<N extends MetricName> = { [L in LabelsOf<N>]: string };
export interface Sample<N extends MetricName> { labels: LabelValues<N>; value: number }
// What a mirrored series gives at scrape time: plain samples, or a histogram's buckets.
export type MirrorSample =
  | { labels: Record<string, string>; value: number }
  | { labels: Record<string, string>; buckets: ReadonlyArray<readonly [number, number]>; count: number; sum: number };

const BUCKETS: Partial<Record<MetricName, number[]>> = {
  ferry_store_commit_duration_seconds: STORE_COMMIT_BUCKETS_SECONDS,
  ferry_store_batch_writes: STORE_BATCH_WRITES_BUCKETS,
};

export function safeLabel(value: string): string {
  return LABEL_VALUE_PATTERN.test(value) ? value : 'other';
}

function safeLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) out[name] = safeLabel(value);
  return out;
}

export class InnerMetrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();
  private readonly readers = new Map<string, () => Promise<Array<Sample<MetricName>>> | Array<Sample<MetricName>>>();
  private readonly mirrors = new Map<string, () => MirrorSample[]>();

  // `only`: a registry of these metrics alone. A standby box of a pair exposes its role and
  // nothing else: a zero of the gateway's own gauges there would read as a fault.
  constructor(o: { only?: readonly MetricName[] } = {}) {
    const only = o.only ? new Set<string>(o.only) : undefined;
    for (const [name, row] of Object.entries(METRICS)) {
      if (only && !only.has(name)) continue;
      const labelNames = [...row.labels];
      const registers = [this.registry];
      if (row.source === 'event' && row.type === 'counter') {
        this.counters.set(name, new Counter({ name, help: row.help, labelNames, registers }));
      } else if (row.source === 'event' && row.type === 'histogram') {
        this.histograms.set(name, new Histogram({ name, help: row.help, labelNames, registers, buckets: BUCKETS[name as MetricName] ?? [] }));
      } else if (row.source === 'outer') {
        this.registry.registerMetric(new MirroredMetric(name, row.help, row.type, () => this.mirrors.get(name)?.() ?? []) as never);
      } else {
        const readers = this.readers;
        new Gauge({
          name, help: row.help, labelNames, registers,
          async collect() {
            this.reset();
            const read = readers.get(name);
            if (!read) return;
            for (const s of await read()) this.set(safeLabels(s.labels as Record<string, string>), s.value);
          },
        });
      }
    }
  }

  count<N extends CounterName>(name: N, labels: LabelValues<N>, by = 1): void {
    this.counters.get(name)!.inc(safeLabels(labels as Record<string, string>), by);
  }

  observe<N extends HistogramName>(name: N, value: number, labels?: LabelValues<N>): void {
    this.histograms.get(name)!.observe(safeLabels((labels ?? {}) as Record<string, string>), value);
  }

  // The part that owns a state answers at scrape time.
  read<N extends ReadName>(name: N, reader: () => Promise<Array<Sample<N>>> | Array<Sample<N>>): void {
    this.readers.set(name, reader as () => Array<Sample<MetricName>>);
  }

  mirror(name: MirrorName, reader: () => MirrorSample[]): void {
    this.mirrors.set(name, reader);
  }

  // The Prometheus text exposition format, and its content type.
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  // One series' value (without labels: the sum over all label values), for tests and the console.
  async value(name: MetricName, labels: Record<string, string> = {}): Promise<number | undefined> {
    const metric = (await this.registry.getMetricsAsJSON()).find((m) => m.name === name);
    if (!metric) return undefined;
    const values = metric.values as unknown as SeriesValue[];
    const matching = values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && (v.metricName === undefined || v.metricName === name || v.metricName === `${name}_count`));
    return matching.length === 0 ? undefined : matching.reduce((sum, v) => sum + v.value, 0);
  }
}

interface SeriesValue { labels: Record<string, string | number>; value: number; metricName?: string }

// A series whose values another process measured: prom-client's metric interface
// (name, help, type, get) over what the last report said.
class MirroredMetric {
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram', private readonly read: () => MirrorSample[]) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: SeriesValue[] }> {
    const values: SeriesValue[] = [];
    for (const s of this.read()) {
      const labels = safeLabels(s.labels);
      if ('buckets' in s) {
        for (const [le, count] of s.buckets) values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: count });
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
        values.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
        values.push({ metricName: `${this.name}_count`, labels, value: s.count });
      } else {
        values.push({ labels, value: s.value });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }
}
