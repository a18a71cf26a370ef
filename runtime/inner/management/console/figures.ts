// The console's reading of the metrics registry: the same figures /metrics exposes, read
// one metric at a time (a whole-registry read would run every state gauge's reader).
import type { InnerMetrics } from '../../metrics/registry.js';
import type { MetricName } from '../../metrics/table.js';

interface SeriesValue { labels: Record<string, string | number>; value: number; metricName?: string }

export class RegistryFigures {
  constructor(private readonly metrics: InnerMetrics) {}

  // The series of a metric (a histogram's: those of `part`, e.g. `_sum`), or [] when it
  // has none now (an outer-side figure without a fresh report).
  async series(name: MetricName, part = ''): Promise<SeriesValue[]> {
    const metric = this.metrics.registry.getSingleMetric(name);
    if (!metric) return [];
    const { values } = await metric.get() as unknown as { values: SeriesValue[] };
    return values.filter((v) => (part === '' ? v.metricName === undefined || v.metricName === name : v.metricName === `${name}${part}`));
  }

  // The sum over the series whose labels include `match`; undefined when there is none.
  async total(name: MetricName, match: Record<string, string> = {}, part = ''): Promise<number | undefined> {
    const wanted = (await this.series(name, part)).filter((v) => Object.entries(match).every(([k, l]) => v.labels[k] === l));
    return wanted.length === 0 ? undefined : wanted.reduce((sum, v) => sum + v.value, 0);
  }

  // Per value of one label: { INT: 3, PED: 0 }.
  async byLabel(name: MetricName, label: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const v of await this.series(name)) out.set(String(v.labels[label]), (out.get(String(v.labels[label])) ?? 0) + v.value);
    return out;
  }
}
