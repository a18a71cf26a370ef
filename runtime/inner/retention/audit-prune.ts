// Audit pruning: deletes the oldest entries whose time is before the cutoff, a chunk at a
// time, each chunk in one transaction with a checkpoint entry that names the last entry
// deleted (Tx.pruneAudit, store/audit.ts). Only a run of old entries from the start of
// the chain goes, and never the newest entry, from which the store continues the chain.
import type { AuditEntry, Store } from '../store/store.js';
import { KEYSPACE } from '../store/keyspace.js';
import { auditOfKey, auditedOrderOf } from '../store/keys.js';

// Entries deleted per transaction, each with at most one auditOf entry: with the
// checkpoint and its pointer, under the store's MAX_BATCH_OPS (1000).
export const AUDIT_PRUNE_CHUNK = 200;

export async function pruneAudit(store: Store, cutoffMs: number): Promise<{ pruned: number; checkpointSeq: number | null }> {
  let pruned = 0;
  let checkpointSeq: number | null = null;
  for (;;) {
    const chunk = await store.list<AuditEntry>(KEYSPACE.audit.prefix, { limit: AUDIT_PRUNE_CHUNK });
    const headSeq = store.auditHead.seq;
    let last: AuditEntry | undefined;
    for (const [, entry] of chunk) {
      if (entry.seq >= headSeq || Date.parse(entry.ts) >= cutoffMs) break;
      last = entry;
    }
    if (!last) return { pruned, checkpointSeq };
    const first = chunk[0]![1];
    const through = last;
    // Tx.pruneAudit asserts that the head stays; only retention deletes audit entries, and
    // one run at a time (Retention.run), so the chunk read above is still the chain's start.
    const checkpoint = await store.transact((tx) => {
      for (const [, entry] of chunk) {
        if (entry.seq > through.seq) break;
        const orderId = auditedOrderOf(entry.event);
        if (orderId !== undefined) tx.del(auditOfKey(orderId, entry.seq));
      }
      return tx.pruneAudit(first.seq, { seq: through.seq, hash: through.hash });
    });
    pruned += through.seq - first.seq + 1;
    checkpointSeq = checkpoint.seq;
  }
}
