import { assert } from '../../common/errors.js';
import { CHECKPOINT_KIND, CHECKPOINT_POINTER_KEY, nextEntryText, type AuditEntry, type AuditEvent, type AuditHead } from './audit.js';
import type { WriteSet } from './commit-queue.js';
import { auditKey, auditOfKey, auditedOrderOf, assertUserKey, compareKeys } from './keys.js';
import type { ListOptions } from './merge.js';

export interface Tx {
  get<T>(key: string): Promise<T | undefined>; // this tx's own writes, then the overlay, then disk
  put(key: string, value: unknown): void;
  del(key: string): void;
  audit(event: AuditEvent): AuditEntry; // appends a chained entry in this tx
  // Retention only: deletes audit entries fromSeq..last.seq after appending a checkpoint
  // entry that names the last one deleted (see audit.ts).
  pruneAudit(fromSeq: number, last: AuditHead): AuditEntry;
  list<T>(prefix: string, opts?: ListOptions): Promise<Array<[string, T]>>; // as Store.list, with this tx's writes laid over
  // fn runs when this transaction commits (visible, not yet synced), before the next one
  // starts; never if fn throws. For in-memory summaries of the store that must follow
  // exactly what was committed (outbox/counts.ts).
  onCommit(fn: () => void): void;
}

// What a transaction reads through: the store's committed view (overlay over disk).
export interface CommittedView {
  get<T>(key: string): Promise<T | undefined>;
  listRaw(prefix: string, own: Array<[string, string | undefined]>, opts?: ListOptions): Promise<Array<[string, string]>>;
}

// One transaction's private write set. Nothing here touches the store until the store
// commits `writes` after fn returns; an exception simply drops the object.
export class StoreTx implements Tx {
  readonly writes: WriteSet = new Map();
  // This transaction's audit entries, for the store's observer and audit listeners once
  // they are durable.
  readonly entries: AuditEntry[] = [];
  readonly committed: Array<() => void> = [];
  private live = true;

  constructor(
    private readonly view: CommittedView,
    public head: AuditHead,
    private readonly now: () => Date,
  ) {}

  end(): void {
    this.live = false;
  }

  async get<T>(key: string): Promise<T | undefined> {
    this.assertLive();
    if (!this.writes.has(key)) return this.view.get<T>(key);
    const json = this.writes.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  put(key: string, value: unknown): void {
    this.assertLive();
    assertUserKey(key);
    assert(value !== undefined, 'a stored value is not undefined (use del)');
    const json = JSON.stringify(value);
    assert(typeof json === 'string', 'a stored value is JSON-serialisable');
    this.writes.set(key, json);
  }

  del(key: string): void {
    this.assertLive();
    assertUserKey(key);
    this.writes.set(key, undefined);
  }

  audit(event: AuditEvent): AuditEntry {
    this.assertLive();
    const { entry, text } = nextEntryText(this.head, event, this.now());
    this.writes.set(auditKey(entry.seq), text);
    const orderId = auditedOrderOf(entry.event);
    if (orderId !== undefined) this.writes.set(auditOfKey(orderId, entry.seq), String(entry.seq));
    this.head = { seq: entry.seq, hash: entry.hash };
    this.entries.push(entry);
    return entry;
  }

  // The checkpoint and the deletes commit together, so the chain verifies before and
  // after; the head is never deleted, because the store continues the chain from it.
  pruneAudit(fromSeq: number, last: AuditHead): AuditEntry {
    this.assertLive();
    assert(Number.isSafeInteger(fromSeq), 'fromSeq is an integer');
    assert(fromSeq >= 1, 'fromSeq is a seq');
    assert(fromSeq <= last.seq, 'something is pruned');
    assert(last.seq < this.head.seq, 'the head is never pruned');
    const entry = this.audit({ kind: CHECKPOINT_KIND, lastPrunedSeq: last.seq, lastPrunedHash: last.hash });
    for (let seq = fromSeq; seq <= last.seq; seq++) this.writes.set(auditKey(seq), undefined);
    this.writes.set(CHECKPOINT_POINTER_KEY, JSON.stringify(entry.seq));
    return entry;
  }

  onCommit(fn: () => void): void {
    this.assertLive();
    this.committed.push(fn);
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<[string, T]>> {
    this.assertLive();
    const own: Array<[string, string | undefined]> = [];
    for (const [key, json] of this.writes) if (key.startsWith(prefix)) own.push([key, json]);
    own.sort((a, b) => compareKeys(a[0], b[0]));
    const rows = await this.view.listRaw(prefix, own, opts);
    return rows.map(([key, json]) => [key, JSON.parse(json) as T]);
  }

  private assertLive(): void {
    // A tx used after its fn returned would write outside any transaction.
    assert(this.live, 'a Tx is used only inside its transaction');
  }
}
