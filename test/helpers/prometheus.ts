// A scrape of a test gateway's GET /metrics, parsed as the Prometheus text format by a
// parser (parse-prometheus-text-format), and read by metric name and labels. That parser
// folds a histogram's series into one whatever their labels, so a histogram's buckets,
// sums and counts are read from a second parse in which each of the three is a family of
// its own.
import { createRequire } from 'node:module';
import * as assert from 'uvu/assert';
import { managementUrl, tokens } from './management.js';
import type { TestGateway } from './gateway.js';

interface Sample { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }
export interface Family { name: string; help: string; type: string; metrics: Sample[] }

const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

export class Scrape {
  readonly families: Map<string, Family>;
  private readonly parts: Map<string, Family>;

  constructor(readonly text: string, readonly contentType: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const histograms = new Set([...this.families.values()].filter((f) => f.type === 'HISTOGRAM').map((f) => f.name));
    const split: string[] = [];
    let previous = '';
    for (const line of text.split('\n')) {
      const comment = /^# (HELP|TYPE) ([^ ]+)/.exec(line);
      if (comment) {
        if (!histograms.has(comment[2]!)) split.push(line);
        continue;
      }
      const name = /^[^{ ]+/.exec(line)?.[0] ?? '';
      const family = name.replace(/_(bucket|sum|count)$/, '');
      if (histograms.has(family) && name !== previous) split.push(`# TYPE ${name} gauge`);
      previous = name;
      split.push(line);
    }
    // A histogram's series interleave (bucket, sum, count, then the next labels): each run
    // is a family here, and the runs of one name are joined.
    this.parts = new Map();
    for (const f of parsePrometheusTextFormat(split.join('\n'))) {
      const seen = this.parts.get(f.name);
      if (seen) seen.metrics.push(...f.metrics);
      else this.parts.set(f.name, f);
    }
  }

  // The samples of a metric whose labels include `labels`.
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    const family = this.families.get(name);
    const all = family?.type === 'HISTOGRAM' ? this.histogramSamples(name) : family?.metrics ?? [];
    return all.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  }

  // The sum of the matching samples' values (a histogram's: their counts); 0 when none.
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, s) => sum + Number(s.value ?? s.count ?? 0), 0);
  }

  private histogramSamples(name: string): Sample[] {
    const byLabels = new Map<string, Sample>();
    const of = (labels: Record<string, string> = {}) => {
      const key = JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
      if (!byLabels.has(key)) byLabels.set(key, { labels: Object.fromEntries(Object.entries(labels).filter(([k]) => k !== 'le')), buckets: {} });
      return byLabels.get(key)!;
    };
    for (const s of this.parts.get(`${name}_bucket`)?.metrics ?? []) of(s.labels).buckets![s.labels!.le!] = s.value!;
    for (const s of this.parts.get(`${name}_sum`)?.metrics ?? []) of(s.labels).sum = s.value!;
    for (const s of this.parts.get(`${name}_count`)?.metrics ?? []) of(s.labels).count = s.value!;
    return [...byLabels.values()];
  }

  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples(name, labels).length > 0;
  }
}

export async function scrape(gw: TestGateway, token: string | undefined = tokens(gw).read): Promise<Scrape> {
  const res = await fetch(`${managementUrl(gw)}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  assert.is(res.status, 200, text);
  return new Scrape(text, res.headers.get('content-type') ?? '');
}
