import { CHECKPOINT_POINTER_KEY, EMPTY_HEAD, checkpointOf, entryProblem, followsQuickly, parseOrUndefined, type AuditEntry, type AuditHead } from './audit.js';
import { AUDIT_PREFIX, auditKey, prefixUpperBound, seqOfAuditKey } from './keys.js';
import type { EngineSnapshot, StoreEngine } from './engine.js';
import { openEngine, type StoreBackend } from './backend.js';

export interface AuditVerdict {
  ok: boolean;
  entries: number; // entries that verified, up to the first broken one
  firstBroken?: { seq: number; key: string; reason: string };
  prunedThrough?: number; // retention deleted the entries up to this seq (a checkpoint says so)
}

// Walks the whole audit chain in key order and names the first entry that does not
// follow from the one before. Opens the store itself: LevelDB allows one process at a
// time, so the gateway must be stopped (the error says so when it is not); on PostgreSQL
// it reads the configured database, running gateway or not.
//
// Limitation: removing entries from the end of the chain leaves a shorter chain that
// still verifies; detecting that needs the head hash kept outside this store.
export async function verifyAudit(dataDir: string, backend?: StoreBackend): Promise<AuditVerdict> {
  const engine = await openEngine(dataDir, backend, { createIfMissing: false });
  try {
    return await walkSnapshot(engine, VERIFY_BATCH_ENTRIES);
  } finally {
    await engine.close();
  }
}

// The same walk over the store a running gateway holds open (through the management
// API): it reads a snapshot, so entries appended meanwhile do not disturb it.
export function verifyAuditOf(engine: StoreEngine): Promise<AuditVerdict> {
  return walkSnapshot(engine, VERIFY_BATCH_ENTRIES_ONLINE);
}

async function walkSnapshot(engine: StoreEngine, batchEntries: number): Promise<AuditVerdict> {
  const snapshot = await engine.snapshot();
  try {
    return await walkChain(snapshot, batchEntries);
  } finally {
    await snapshot.close();
  }
}

// Entries are read in sorted batches of this many (one native call each), with a read
// buffer large enough to fill a batch: about 300 bytes an entry.
export const VERIFY_BATCH_ENTRIES = 2_000;
// On the running gateway, smaller: a batch is checked in one turn of the event loop
// (about 4 µs an entry), and payments wait meanwhile.
export const VERIFY_BATCH_ENTRIES_ONLINE = 500;
const VERIFY_READ_BYTES = 1024 * 1024;

async function walkChain(db: EngineSnapshot, batchEntries: number): Promise<AuditVerdict> {
  let head: AuditHead | undefined; // set by the first entry: genesis, or a checkpoint's claim
  let checkpointSeq: number | undefined;
  let entries = 0;
  const lt = prefixUpperBound(AUDIT_PREFIX)!;
  const iterator = db.iterator({ gte: AUDIT_PREFIX, lt, readAheadBytes: VERIFY_READ_BYTES });
  try {
    for (;;) {
      const batch = await iterator.nextv(batchEntries);
      if (batch.length === 0) break;
      if (head === undefined) {
        const key = batch[0]![0];
        const start = await chainStart(db, key);
        if ('reason' in start) return { ok: false, entries, firstBroken: { seq: seqOfAuditKey(key) ?? 1, key, reason: start.reason } };
        ({ head, checkpointSeq } = start);
      }
      for (const [key, json] of batch) {
        const quick = followsQuickly(key, json, head);
        if (quick) {
          head = quick;
          entries += 1;
          continue;
        }
        const entry = parseOrUndefined(json);
        const reason = entryProblem(key, entry, head, json);
        if (reason !== undefined) {
          return { ok: false, entries, firstBroken: { seq: seqOfAuditKey(key) ?? head.seq + 1, key, reason } };
        }
        const checked = entry as AuditEntry;
        head = { seq: checked.seq, hash: checked.hash };
        entries += 1;
      }
      // Between batches the event loop turns: a running gateway verifies while it serves.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await iterator.close();
  }
  // The checkpoint vouches for the start only if it is itself part of the verified chain.
  if (checkpointSeq !== undefined && (head === undefined || checkpointSeq > head.seq)) {
    const key = auditKey(checkpointSeq);
    return { ok: false, entries, firstBroken: { seq: checkpointSeq, key, reason: 'the checkpoint entry is missing (entry deleted)' } };
  }
  return { ok: true, entries, ...(checkpointSeq !== undefined ? { prunedThrough: head!.seq - entries } : {}) };
}

// Where the chain must start: at genesis when the first entry kept is seq 1, otherwise
// right after what the newest checkpoint says retention pruned (audit.ts).
async function chainStart(db: EngineSnapshot, firstKey: string): Promise<{ head: AuditHead; checkpointSeq?: number } | { reason: string }> {
  const first = seqOfAuditKey(firstKey);
  if (first === undefined || first === 1) return { head: EMPTY_HEAD };
  const missing = `entries before seq ${first} are missing`;
  const pointer = await db.get(CHECKPOINT_POINTER_KEY);
  const checkpointSeq = pointer === undefined ? undefined : Number(parseOrUndefined(pointer));
  if (checkpointSeq === undefined || !Number.isSafeInteger(checkpointSeq) || checkpointSeq <= first) {
    return { reason: `${missing} and no checkpoint covers them (entry deleted)` };
  }
  const text = await db.get(auditKey(checkpointSeq));
  const claim = text === undefined ? undefined : checkpointOf(parseOrUndefined(text));
  if (claim === undefined) return { reason: `${missing} and the checkpoint pointer names no checkpoint entry (entry deleted)` };
  if (claim.lastPrunedSeq !== first - 1) {
    return { reason: `${missing}: the checkpoint at seq ${checkpointSeq} covers only up to seq ${claim.lastPrunedSeq} (entry deleted)` };
  }
  return { head: { seq: claim.lastPrunedSeq, hash: claim.lastPrunedHash }, checkpointSeq };
}
