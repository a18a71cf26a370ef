import type { Level } from 'level';
import { EMPTY_HEAD, entryProblem, parseOrUndefined, type AuditEntry, type AuditHead } from './audit.js';
import { AUDIT_PREFIX, prefixUpperBound, seqOfAuditKey } from './keys.js';
import { openLevel } from './open-level.js';

export interface AuditVerdict {
  ok: boolean;
  entries: number; // entries that verified, up to the first broken one
  firstBroken?: { seq: number; key: string; reason: string };
}

// Walks the whole audit chain in key order and names the first entry that does not
// follow from the one before. Opens the store itself: LevelDB allows one process at a
// time, so the gateway must be stopped (the error says so when it is not).
//
// Limitation: removing entries from the end of the chain leaves a shorter chain that
// still verifies; detecting that needs the head hash kept outside this store.
export async function verifyAudit(dataDir: string): Promise<AuditVerdict> {
  const db = await openLevel(dataDir, false);
  try {
    return await walkChain(db);
  } finally {
    await db.close();
  }
}

async function walkChain(db: Level<string, unknown>): Promise<AuditVerdict> {
  let head: AuditHead = EMPTY_HEAD;
  let entries = 0;
  const lt = prefixUpperBound(AUDIT_PREFIX)!;
  for await (const [key, json] of db.iterator<string, string>({ gte: AUDIT_PREFIX, lt, keyEncoding: 'utf8', valueEncoding: 'utf8' })) {
    const entry = parseOrUndefined(json);
    const reason = entryProblem(key, entry, head);
    if (reason !== undefined) {
      return { ok: false, entries, firstBroken: { seq: seqOfAuditKey(key) ?? head.seq + 1, key, reason } };
    }
    const checked = entry as AuditEntry;
    head = { seq: checked.seq, hash: checked.hash };
    entries += 1;
  }
  return { ok: true, entries };
}
