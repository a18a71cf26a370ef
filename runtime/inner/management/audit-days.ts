// Where a hospital day lies in the audit chain. Entries are keyed by seq and stamped by
// the clock as they are appended, so their times rise with their seq: the day's first
// and last entries are found by a binary search (about 25 reads for 12 million entries)
// instead of a scan from the start of the chain. The clock may step back a little (an
// NTP correction), so the range is widened by AUDIT_DAY_SLACK_MS on each side; the
// query still keeps only the entries whose own time is in the day.
import type { AuditEntry, Store } from '../store/store.js';
import { auditKey } from '../store/keys.js';
import { KEYSPACE } from '../store/keyspace.js';
import type { KeyRange } from './kinds.js';

export const AUDIT_DAY_SLACK_MS = 60 * 60 * 1000;

export async function auditDayRange(store: Store, startMs: number, endMs: number): Promise<KeyRange | undefined> {
  const prefix = KEYSPACE.audit.prefix;
  const [first] = await store.list<AuditEntry>(prefix, { limit: 1 });
  const last = store.auditHead.seq;
  if (!first || last < first[1].seq) return undefined;
  const from = await firstAtOrAfter(store, first[1].seq, last, startMs - AUDIT_DAY_SLACK_MS);
  const to = await firstAtOrAfter(store, first[1].seq, last, endMs + AUDIT_DAY_SLACK_MS);
  if (from === undefined || to === undefined) return undefined; // a gap: scan instead
  const stop = to <= last ? auditKey(to) : undefined;
  return { prefix, ...(from > first[1].seq ? { after: auditKey(from - 1) } : {}), ...(stop ? { beyond: (key: string) => key >= stop } : {}) };
}

// The smallest seq in [lo, hi] stamped at or after `ms` (hi + 1 when none is), or
// undefined when an entry in between cannot be read.
async function firstAtOrAfter(store: Store, lo: number, hi: number, ms: number): Promise<number | undefined> {
  let a = lo;
  let b = hi + 1;
  while (a < b) {
    const mid = Math.floor((a + b) / 2);
    const entry = await store.get<AuditEntry>(auditKey(mid));
    if (!entry) return undefined;
    if (Date.parse(entry.ts) >= ms) b = mid;
    else a = mid + 1;
  }
  return a;
}
