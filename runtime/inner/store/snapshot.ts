// A consistent view of the whole store, read as it was at one moment however long the
// reader takes: what a backup streams (backup-file.ts). Store.snapshot() takes it once
// every committed transaction is on disk (the engine's snapshot: LevelDB's, or a
// PostgreSQL repeatable-read transaction); the migration (migrate.ts) takes one of the
// engine before the store serves anyone.
import { EMPTY_HEAD, parseOrUndefined, type AuditEntry, type AuditHead } from './audit.js';
import type { EngineSnapshot } from './engine.js';
import { AUDIT_PREFIX, prefixUpperBound } from './keys.js';
import { BACKUP_BATCH_KEYS, BACKUP_READ_BYTES } from './limits.js';

export type KeyBatches = AsyncIterable<ReadonlyArray<readonly [string, string]>>;

// The last audit entry in the snapshot: the head a backup of it names.
export async function auditHeadOf(snapshot: EngineSnapshot): Promise<AuditHead> {
  const it = snapshot.iterator({ gte: AUDIT_PREFIX, lt: prefixUpperBound(AUDIT_PREFIX)!, reverse: true, limit: 1 });
  try {
    const last = await it.next();
    if (!last) return EMPTY_HEAD;
    const entry = parseOrUndefined(last[1]) as AuditEntry | undefined;
    return entry && Number.isSafeInteger(entry.seq) && typeof entry.hash === 'string' ? { seq: entry.seq, hash: entry.hash } : EMPTY_HEAD;
  } finally {
    await it.close();
  }
}

// Every key and its stored JSON text, in key order, in batches. Read once: the end of
// the loop, breaking out of it or an error closes the iterator and the snapshot.
export async function* batchesOf(snapshot: EngineSnapshot): AsyncGenerator<ReadonlyArray<readonly [string, string]>> {
  const it = snapshot.iterator({ readAheadBytes: BACKUP_READ_BYTES });
  try {
    for (;;) {
      const batch = await it.nextv(BACKUP_BATCH_KEYS);
      if (batch.length === 0) return;
      yield batch;
    }
  } finally {
    await it.close().catch(() => undefined);
    await snapshot.close();
  }
}
