import type { Logger } from '../../common/logger.js';
import { assert } from '../../common/errors.js';
import { MAX_BATCH_BYTES, MAX_BATCH_OPS, MAX_QUEUED_BATCHES, MAX_RECENT_VALUE_BYTES } from './limits.js';
import { StoreError } from './errors.js';
import type { BatchOp, StoreEngine } from './engine.js';
import { KEYSPACE } from './keyspace.js';

// A committed write as the store keeps it until synced: the value's JSON text, or
// undefined for a delete. Values travel as JSON text so that what a reader gets from the
// overlay is byte for byte what it would get from disk, and no caller can change a
// pending value by mutating an object it still holds.
export type WriteSet = Map<string, string | undefined>;

interface Batch {
  readonly id: number;
  readonly ops: BatchOp[];
  bytes: number;
  lastCommit: number; // the commit count after the newest transaction in it
  sealed: boolean; // being written: no more ops may join
  readonly done: Promise<void>;
  readonly settle: { resolve: () => void; reject: (err: Error) => void };
}

interface OverlayEntry {
  json: string | undefined;
  batch: number;
}

// Group commit. Committed transactions land in the overlay (readable at once) and in the
// newest open batch; one writer loop syncs batches in order, one fsync per batch. A failed
// write fails every transaction not yet synced and closes the queue for good (fail closed):
// the process must restart and recover from what is on disk.
export class CommitQueue {
  readonly stats = { batches: 0, writes: 0, transactions: 0 };
  // Told of each synced batch: its keys and the real time its write and fsync took.
  onSynced: ((writes: number, seconds: number) => void) | undefined;
  private readonly overlay = new Map<string, OverlayEntry>();
  // Synced values (JSON text, or undefined for a delete) of the keys written last, oldest
  // first. Every write passes through this queue, so an entry is what the disk holds until
  // a later write of its key replaces it; reading it saves a LevelDB get, the largest
  // single cost per payment in the inner side's profile (BENCHMARKS.md).
  private readonly recent = new Map<string, string | undefined>();
  private recentBytes = 0;
  // Commits so far: a disk read is remembered only if no commit ran while it was read.
  private commits = 0;
  // The commit count of the newest transaction on disk.
  private syncedCommits = 0;
  private readonly batches: Batch[] = [];
  private nextBatchId = 1;
  private writing = false;
  private failure: StoreError | undefined;

  constructor(private readonly engine: StoreEngine, private readonly log: Logger) {}

  get failed(): StoreError | undefined {
    return this.failure;
  }

  // The overlay's view of a key: a JSON text, null for a pending delete, undefined if the
  // overlay knows nothing (read the disk).
  peek(key: string): string | null | undefined {
    const entry = this.overlay.get(key);
    if (entry) return entry.json ?? null;
    if (!this.recent.has(key)) return undefined;
    return this.recent.get(key) ?? null;
  }

  // A value read from disk (JSON text, or undefined if absent) when `commitsBefore` (taken
  // before the read) shows that nothing committed meanwhile, so the disk still says so.
  // Reads inside a transaction hold the mutex, which is when this holds.
  rememberRead(key: string, json: string | undefined, commitsBefore: number): void {
    if (commitsBefore === this.commits && !this.overlay.has(key) && !this.failure) this.remember(key, json);
  }

  get commitCount(): number {
    return this.commits;
  }

  // The commit count of the newest transaction whose batch is on disk: a read of the disk
  // that began when commitCount was n saw nothing committed after n if this is still <= n.
  get syncedCommitCount(): number {
    return this.syncedCommits;
  }

  // Pending writes under a prefix, unsorted.
  pendingUnder(prefix: string): Array<[string, string | undefined]> {
    const out: Array<[string, string | undefined]> = [];
    for (const [key, entry] of this.overlay) if (key.startsWith(prefix)) out.push([key, entry.json]);
    return out;
  }

  // Checks that a write set can be committed, waiting for room if the queue is full.
  // Called with the transaction mutex held, so nothing else commits meanwhile.
  async reserve(writes: WriteSet): Promise<number> {
    const bytes = sizeOf(writes);
    if (writes.size > MAX_BATCH_OPS) throw new StoreError('TX_TOO_LARGE', `a transaction writes ${writes.size} keys; at most ${MAX_BATCH_OPS}`);
    if (bytes > MAX_BATCH_BYTES) throw new StoreError('TX_TOO_LARGE', `a transaction writes ${bytes} bytes; at most ${MAX_BATCH_BYTES}`);
    while (!this.failure && writes.size > 0 && !this.openBatchFits(writes.size, bytes) && this.batches.length >= MAX_QUEUED_BATCHES) {
      await this.batches[0]!.done.catch(() => undefined);
    }
    if (this.failure) throw this.failure;
    return bytes;
  }

  // Adds a reserved write set to the overlay and a batch. Synchronous, so that it happens
  // in the same turn as the reservation's last check. Returns the batch's durability.
  commit(writes: WriteSet, bytes: number): Promise<void> {
    assert(this.failure === undefined, 'commit follows a successful reserve');
    this.stats.transactions += 1;
    if (writes.size === 0) return this.durable();
    this.commits += 1;
    const batch = this.openBatch(writes.size, bytes);
    for (const [key, json] of writes) {
      batch.ops.push({ type: json === undefined ? 'del' : 'put', key, value: json });
      this.overlay.set(key, { json, batch: batch.id });
    }
    batch.bytes += bytes;
    batch.lastCommit = this.commits;
    assert(batch.ops.length <= MAX_BATCH_OPS, 'a batch holds at most MAX_BATCH_OPS');
    void this.drain();
    return batch.done;
  }

  // Resolves when everything committed so far is on disk; rejects if it never will be.
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const last = this.batches[this.batches.length - 1];
    return last ? last.done : Promise.resolve();
  }

  private openBatchFits(ops: number, bytes: number): boolean {
    const last = this.batches[this.batches.length - 1];
    if (!last || last.sealed) return false;
    return last.ops.length + ops <= MAX_BATCH_OPS && last.bytes + bytes <= MAX_BATCH_BYTES;
  }

  private openBatch(ops: number, bytes: number): Batch {
    if (this.openBatchFits(ops, bytes)) return this.batches[this.batches.length - 1]!;
    const batch = newBatch(this.nextBatchId++);
    this.batches.push(batch);
    return batch;
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    while (this.batches.length > 0 && !this.failure) {
      const batch = this.batches[0]!;
      batch.sealed = true;
      const started = performance.now();
      try {
        await this.write(batch.ops);
      } catch (err) {
        this.fail(err);
        break;
      }
      this.onSynced?.(batch.ops.length, (performance.now() - started) / 1000);
      this.synced(batch);
    }
    this.writing = false;
  }

  private write(ops: BatchOp[]): Promise<void> {
    return this.engine.write(ops);
  }

  private synced(batch: Batch): void {
    assert(this.batches[0] === batch, 'batches sync in order');
    this.batches.shift();
    this.stats.batches += 1;
    this.stats.writes += batch.ops.length;
    this.syncedCommits = batch.lastCommit;
    for (const op of batch.ops) {
      // A key rewritten by a later batch keeps its newer overlay entry, which peek reads first.
      if (this.overlay.get(op.key)?.batch === batch.id) this.overlay.delete(op.key);
      this.remember(op.key, op.value);
    }
    batch.settle.resolve();
  }

  // The one way into the cache, for synced writes and reads alike, so that a key left out
  // is never in it with an older value.
  private remember(key: string, json: string | undefined): void {
    if (LISTED_ONLY.some((prefix) => key.startsWith(prefix))) return;
    if (this.recent.has(key)) {
      this.recentBytes -= cachedBytes(key, this.recent.get(key));
      this.recent.delete(key); // re-inserted as the newest
    }
    this.recent.set(key, json);
    this.recentBytes += cachedBytes(key, json);
    if (this.recentBytes > MAX_RECENT_VALUE_BYTES) this.evict();
  }

  // Down to seven eighths of the cap in one pass: a Map keeps deleted entries as holes
  // until it is rehashed, so taking the oldest one at a time would scan the holes anew
  // on every insert.
  private evict(): void {
    const target = (MAX_RECENT_VALUE_BYTES * 7) / 8;
    for (const [key, value] of this.recent) {
      if (this.recentBytes <= target) break;
      this.recentBytes -= cachedBytes(key, value);
      this.recent.delete(key);
    }
  }

  private fail(cause: unknown): void {
    const lost = this.batches.length;
    // A fenced engine says so itself: another gateway is active, which is not a disk fault.
    this.failure = cause instanceof StoreError && cause.code === 'FENCED' ? cause : new StoreError('STORE_FAILED', undefined, { cause });
    this.log.fatal({ err: cause, batchesLost: lost }, 'store batch write failed; refusing further writes');
    // Nothing unsynced is acknowledged, so readers must not see it either.
    this.overlay.clear();
    this.recent.clear();
    this.recentBytes = 0;
    for (const batch of this.batches.splice(0)) batch.settle.reject(this.failure);
  }
}

// Keys read only by lists, which the recent-values cache does not serve: audit entries
// (verify, the console's feed; a third of the writes). Left out, they leave room for what
// is read back by key (bills, orders, counters, and outbox messages, which an
// acknowledgement reads back to keep the device's count: outbox/counts.ts).
const LISTED_ONLY = [KEYSPACE.audit.prefix];

// What a cached entry holds, as V8 stores it: a string of Latin-1 characters takes a byte
// per character, any other two (nearly every key and value here is ASCII JSON), plus the
// strings' headers and the Map entry's three words. (Counted at two bytes a character,
// the cap held half what it said: in the bench, fewer bills than one maximum-rate phase
// pays, and the oldest, the next to be paid, were read from LevelDB again.)
const WIDE = /[^\u0000-\u00ff]/;
const ENTRY_OVERHEAD_BYTES = 2 * 16 + 3 * 8;

function cachedBytes(key: string, json: string | undefined): number {
  const chars = key.length + (json?.length ?? 0);
  const wide = WIDE.test(key) || (json !== undefined && WIDE.test(json));
  return (wide ? 2 * chars : chars) + ENTRY_OVERHEAD_BYTES;
}

function newBatch(id: number): Batch {
  let settle!: Batch['settle'];
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  // Every waiter gets the rejection; this only keeps an unobserved one from crashing node.
  done.catch(() => undefined);
  return { id, ops: [], bytes: 0, lastCommit: 0, sealed: false, done, settle };
}

function sizeOf(writes: WriteSet): number {
  let bytes = 0;
  for (const [key, json] of writes) bytes += Buffer.byteLength(key) + (json === undefined ? 0 : Buffer.byteLength(json));
  return bytes;
}
