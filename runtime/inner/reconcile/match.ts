// Matching a day's statement with the store, pure. Only money that moved counts: a
// payment or refund is compared when either side says it succeeded.
//   matched     succeeded on both sides, same amount
//   long        succeeded at the server only (absent here, or failed or open here)
//   short       succeeded here only (absent there, or failed or pending there)
//   mismatched  succeeded on both sides, different amounts
import type { StatementLine } from '../../channel/records.js';

export interface HereItem {
  kind: 'payment' | 'refund';
  orderId: string;
  refundId?: string;
  amount: number;
  status: string;
}

export interface Finding {
  kind: 'payment' | 'refund';
  orderId: string;
  refundId?: string;
  here: string; // status here, or 'absent'
  there: string; // status on the statement, or 'absent'
  hereAmount?: number;
  thereAmount?: number;
}

export interface ReconcileReport {
  date: string;
  generatedAt: string;
  counts: { statementLines: number; here: number; matched: number; long: number; short: number; mismatched: number };
  long: Finding[];
  short: Finding[];
  mismatched: Finding[];
}

const idOf = (x: { kind: string; orderId: string; refundId?: string }) => (x.kind === 'refund' ? `refund:${x.refundId}` : `payment:${x.orderId}`);
const ids = (x: { kind: 'payment' | 'refund'; orderId: string; refundId?: string }) => ({
  kind: x.kind, orderId: x.orderId, ...(x.refundId !== undefined ? { refundId: x.refundId } : {}),
});

export function matchStatement(date: string, lines: readonly StatementLine[], here: readonly HereItem[], now: Date): ReconcileReport {
  const ours = new Map(here.map((item) => [idOf(item), item]));
  const theirs = new Map<string, StatementLine>();
  const report: ReconcileReport = {
    date, generatedAt: now.toISOString(),
    counts: { statementLines: lines.length, here: here.length, matched: 0, long: 0, short: 0, mismatched: 0 },
    long: [], short: [], mismatched: [],
  };
  for (const line of lines) {
    const id = idOf(line);
    // A line repeated on the statement is money the server says moved twice.
    const repeated = theirs.has(id);
    theirs.set(id, line);
    if (line.status !== 'succeeded') continue;
    const item = ours.get(id);
    if (repeated || item?.status !== 'succeeded') {
      report.long.push({ ...ids(line), here: repeated ? 'succeeded (line repeated)' : item?.status ?? 'absent', there: 'succeeded', thereAmount: line.amount });
    } else if (item.amount !== line.amount) {
      report.mismatched.push({ ...ids(line), here: 'succeeded', there: 'succeeded', hereAmount: item.amount, thereAmount: line.amount });
    } else {
      report.counts.matched += 1;
    }
  }
  for (const item of here) {
    if (item.status !== 'succeeded') continue;
    const line = theirs.get(idOf(item));
    if (line?.status !== 'succeeded') report.short.push({ ...ids(item), here: 'succeeded', there: line?.status ?? 'absent', hereAmount: item.amount });
  }
  report.counts.long = report.long.length;
  report.counts.short = report.short.length;
  report.counts.mismatched = report.mismatched.length;
  return report;
}
