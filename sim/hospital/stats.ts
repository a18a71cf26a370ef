// Counts and latencies per patient flow, for the progress line and the summary table.

// Latencies kept per flow; beyond this a random half is dropped (bounded memory for long
// days, at a small cost in percentile precision).
const SAMPLES_MAX = 100_000;

interface Flow {
  count: number;
  ok: number;
  refused: number;
  failed: number;
  latencies: number[];
  reasons: Map<string, number>;
}

export interface FlowRow {
  flow: string;
  count: number;
  ok: number;
  refused: number;
  failed: number;
  p50: number;
  p95: number;
  p99: number;
  reasons: Record<string, number>;
}

export class FlowStats {
  private readonly flows = new Map<string, Flow>();

  record(flow: string, ms: number, outcome: 'ok' | 'refused' | 'failed', reason?: string): void {
    let f = this.flows.get(flow);
    if (!f) {
      f = { count: 0, ok: 0, refused: 0, failed: 0, latencies: [], reasons: new Map() };
      this.flows.set(flow, f);
    }
    f.count += 1;
    f[outcome] += 1;
    if (outcome === 'ok') {
      if (f.latencies.length >= SAMPLES_MAX) f.latencies = f.latencies.filter((_, i) => i % 2 === 0);
      f.latencies.push(ms);
    }
    if (reason && outcome !== 'ok') f.reasons.set(reason, (f.reasons.get(reason) ?? 0) + 1);
  }

  rows(): FlowRow[] {
    return [...this.flows.entries()].map(([flow, f]) => {
      const sorted = [...f.latencies].sort((a, b) => a - b);
      const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0);
      return { flow, count: f.count, ok: f.ok, refused: f.refused, failed: f.failed, p50: pct(50), p95: pct(95), p99: pct(99), reasons: Object.fromEntries(f.reasons) };
    });
  }
}
