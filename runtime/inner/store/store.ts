import { mkdir } from 'node:fs/promises';
import type { Level } from 'level';
import type { Logger } from '../../common/logger.js';
import { assert } from '../../common/errors.js';
import { EMPTY_HEAD, parseOrUndefined, selfProblem, type AuditEntry, type AuditEvent, type AuditHead } from './audit.js';
import { CommitQueue } from './commit-queue.js';
import { StoreError } from './errors.js';
import { AUDIT_PREFIX, prefixUpperBound } from './keys.js';
import { MAX_LIST_ENTRIES } from './limits.js';
import { mergeList, type ListOptions } from './merge.js';
import { FifoMutex } from './mutex.js';
import { openLevel } from './open-level.js';
import { settleFormat } from './migrate.js';
import { batchesOf, openSnapshotIterator, type StoreSnapshot } from './snapshot.js';
import { StoreTx, type CommittedView, type Tx } from './tx.js';

export type { Tx } from './tx.js';
export type { AuditEvent, AuditEntry } from './audit.js';
export type { ListOptions } from './merge.js';
export { verifyAudit, type AuditVerdict } from './verify.js';
import { verifyAuditOf, type AuditVerdict } from './verify.js';

export interface StoreOptions {
  now?: () => Date; // the clock stamped on audit entries; simulators inject their own
  // For reading a stopped gateway's store (`ferry query --data`): the directory must
  // already hold a store, and nothing is ever written to it; a transaction is a bug.
  readOnly?: boolean;
}

// What the metrics are told (runtime/inner/metrics/): the audit events of each
// transaction once it is durable (what happened, as the audit log says it), each synced
// batch's size and time, and each verification of the chain.
export interface StoreObserver {
  committed(events: readonly AuditEvent[]): void;
  synced(writes: number, seconds: number): void;
  verified(verdict: AuditVerdict, atMs: number): void;
}

// The inner side's one LevelDB (`<dataDir>/store`). Transactions run one at a time; a
// transaction's writes are visible to everyone as soon as its fn returns and are
// acknowledged (transact resolves) only once synced to disk, many transactions sharing
// one fsync (see CommitQueue). Nothing here is reachable from the outer side.
export class Store implements CommittedView {
  private readonly mutex = new FifoMutex();
  private readonly queue: CommitQueue;
  private closing: Promise<void> | undefined;
  private observer: StoreObserver | undefined;
  private readonly watchers: Array<(writes: ReadonlyMap<string, string | undefined>) => void> = [];

  private constructor(
    private readonly db: Level<string, unknown>,
    private readonly log: Logger,
    private head: AuditHead,
    private readonly now: () => Date,
    private readonly readOnly: boolean,
  ) {
    this.queue = new CommitQueue(db, log);
  }

  static async open(dataDir: string, log: Logger, options: StoreOptions = {}): Promise<Store> {
    assert(typeof dataDir === 'string', 'dataDir is a string');
    assert(dataDir.length > 0, 'dataDir is not empty');
    const readOnly = options.readOnly === true;
    if (!readOnly) await mkdir(dataDir, { recursive: true });
    const db = await openLevel(dataDir, !readOnly);
    try {
      // Store format hook (format.ts, migrate.ts): stamps a new store, refuses a newer
      // format, migrates an older one (backup first); the head after any migration.
      const head = await settleFormat(db, { dataDir, log, readOnly, now: options.now ?? (() => new Date()), head: await loadAuditHead(db) });
      log.info({ dataDir, auditSeq: head.seq, readOnly }, 'store open');
      return new Store(db, log, head, options.now ?? (() => new Date()), readOnly);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  // An observer that throws must not fail a transaction already durable, nor stop the
  // writer loop: what it throws is logged and dropped.
  observe(observer: StoreObserver): void {
    this.observer = observer;
    this.queue.onSynced = (writes, seconds) => this.tell(() => observer.synced(writes, seconds));
  }

  // fn sees every committed write set (JSON text, or undefined for a delete) as it
  // commits, before the transaction's own onCommit callbacks, the mutex still held: an
  // in-memory summary of some keys can forget what it did not write itself.
  watchCommits(fn: (writes: ReadonlyMap<string, string | undefined>) => void): void {
    this.watchers.push(fn);
  }

  private tell(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, 'store observer failed');
    }
  }

  // Open, and taking writes: not closing, and no batch write has failed.
  get writable(): boolean {
    return !this.closing && !this.queue.failed;
  }

  // batches and writes count what reached the disk; transactions counts commits.
  get stats(): { batches: number; writes: number; transactions: number } {
    return { ...this.queue.stats };
  }

  // The last audit entry committed (not necessarily synced yet).
  get auditHead(): AuditHead {
    return { ...this.head };
  }

  async get<T>(key: string): Promise<T | undefined> {
    assert(typeof key === 'string', 'a key is a string');
    const pending = this.queue.peek(key);
    if (pending === null) return undefined;
    if (pending !== undefined) return JSON.parse(pending) as T;
    const commitsBefore = this.queue.commitCount;
    const json = await this.db.get<string, string>(key, UTF8);
    this.queue.rememberRead(key, json, commitsBefore);
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  // Many keys at once, in one read of the disk for those the overlay does not hold: what
  // the query side reads a page's records and joins with.
  async getMany<T>(keys: readonly string[]): Promise<Array<T | undefined>> {
    const out: Array<T | undefined> = new Array(keys.length);
    const fromDisk: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const pending = this.queue.peek(keys[i]!);
      if (pending === undefined) fromDisk.push(i);
      else out[i] = pending === null ? undefined : JSON.parse(pending) as T;
    }
    if (fromDisk.length === 0) return out;
    const texts = await this.db.getMany<string, string>(fromDisk.map((i) => keys[i]!), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    for (let j = 0; j < fromDisk.length; j++) {
      const text = texts[j];
      out[fromDisk[j]!] = text === undefined ? undefined : JSON.parse(text) as T;
    }
    return out;
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<[string, T]>> {
    const rows = await this.listRaw(prefix, [], opts);
    return rows.map(([key, json]) => [key, JSON.parse(json) as T]);
  }

  // `own` (a transaction's writes under prefix) is laid over the overlay, which is laid
  // over the disk. Everything before mergeList's first await runs in one turn, so the
  // overlay copy and the disk snapshot agree.
  async listRaw(prefix: string, own: Array<[string, string | undefined]>, opts: ListOptions = {}): Promise<Array<[string, string]>> {
    assert(typeof prefix === 'string', 'a prefix is a string');
    const limit = opts.limit ?? MAX_LIST_ENTRIES + 1;
    assert(Number.isSafeInteger(limit), 'a list limit is an integer');
    assert(limit >= 0, 'a list limit is not negative');
    assert(limit <= MAX_LIST_ENTRIES + 1, 'a list limit is at most MAX_LIST_ENTRIES');
    const upper = new Map(this.queue.pendingUnder(prefix));
    for (const [key, json] of own) upper.set(key, json);
    if (opts.after !== undefined) {
      assert(opts.after.startsWith(prefix), 'a list cursor lies under the prefix');
      assert(opts.reverse !== true, 'a list cursor goes forward');
    }
    const rows = await mergeList(this.db, prefix, [...upper], limit, opts.reverse === true, opts.after);
    if (rows.length > MAX_LIST_ENTRIES) throw new StoreError('LIST_TOO_LARGE', `more than ${MAX_LIST_ENTRIES} keys under ${prefix}`);
    return rows;
  }

  // Every key under prefix, disk and overlay, in no particular order (a pending delete's
  // key may be visited): keys only, streamed, for in-memory filters built at start.
  async forEachKey(prefix: string, visit: (key: string) => void): Promise<void> {
    assert(typeof prefix === 'string', 'a prefix is a string');
    for (const [key, json] of this.queue.pendingUnder(prefix)) if (json !== undefined) visit(key);
    const lt = prefixUpperBound(prefix);
    for await (const key of this.db.keys<string>({ gte: prefix, ...(lt === undefined ? {} : { lt }), keyEncoding: 'utf8' })) visit(key);
  }

  async transact<R>(fn: (tx: Tx) => Promise<R> | R): Promise<R> {
    assert(!this.readOnly, 'a store opened read-only is never written');
    if (this.closing) throw new StoreError('STORE_CLOSED');
    if (this.queue.failed) throw this.queue.failed;
    await this.mutex.acquire();
    let synced: Promise<void>;
    let result: R;
    let tx: StoreTx;
    try {
      // The store may have failed while this transaction waited: don't run fn for nothing.
      if (this.queue.failed) throw this.queue.failed;
      tx = new StoreTx(this, this.head, this.now);
      try {
        result = await fn(tx);
      } finally {
        tx.end();
      }
      ({ synced } = await this.commit(tx));
    } finally {
      this.mutex.release();
    }
    await synced;
    const observer = this.observer;
    if (observer && tx.events.length > 0) this.tell(() => observer.committed(tx.events));
    return result;
  }

  // Runs with the mutex held: from here to the end, nothing else commits.
  // Returns the durability promise wrapped, so that awaiting the commit does not also
  // await the sync.
  private async commit(tx: StoreTx): Promise<{ synced: Promise<void> }> {
    const bytes = await this.queue.reserve(tx.writes);
    const synced = this.queue.commit(tx.writes, bytes);
    this.head = tx.head;
    for (const watch of this.watchers) this.tell(() => watch(tx.writes));
    for (const fn of tx.committed) this.tell(fn);
    return { synced };
  }

  durable(): Promise<void> {
    return this.queue.durable();
  }

  audit(event: AuditEvent): Promise<AuditEntry> {
    return this.transact((tx) => tx.audit(event));
  }

  // Verifies the audit chain as it stands, while the store is open (see verify.ts).
  async verifyAudit(): Promise<AuditVerdict> {
    await this.durable();
    const verdict = await verifyAuditOf(this.db);
    const observer = this.observer;
    if (observer) this.tell(() => observer.verified(verdict, this.now().getTime()));
    return verdict;
  }

  // Backup hook (snapshot.ts): the whole store as of one moment. Waits until every
  // committed transaction is on disk, then, with the mutex held so that nothing commits
  // in between, opens a LevelDB iterator (its implicit snapshot) and releases the mutex
  // at once: payments go on while the snapshot is read.
  async snapshot(): Promise<StoreSnapshot> {
    if (this.closing) throw new StoreError('STORE_CLOSED');
    await this.mutex.acquire();
    let iterator: ReturnType<typeof openSnapshotIterator>;
    let taken: Omit<StoreSnapshot, 'batches'>;
    try {
      await this.queue.durable();
      iterator = openSnapshotIterator(this.db);
      taken = { auditHead: { ...this.head }, at: this.now() };
    } finally {
      this.mutex.release();
    }
    return { ...taken, batches: batchesOf(iterator) };
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Every transaction queued before close runs; new ones are refused above.
    await this.mutex.acquire(true);
    // A failed write was already reported to its transactions and logged.
    await this.queue.durable().catch(() => undefined);
    await this.db.close();
    this.log.info('store closed');
  }
}

const UTF8 = Object.freeze({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as { keyEncoding: 'utf8'; valueEncoding: 'utf8' };

// Continues the chain from the last entry on disk, after checking that entry on its own.
async function loadAuditHead(db: Level<string, unknown>): Promise<AuditHead> {
  const lt = prefixUpperBound(AUDIT_PREFIX)!;
  const rows = await db.iterator<string, string>({ gte: AUDIT_PREFIX, lt, reverse: true, limit: 1, keyEncoding: 'utf8', valueEncoding: 'utf8' }).all();
  const last = rows[0];
  if (!last) return EMPTY_HEAD;
  const [key, json] = last;
  const entry = parseOrUndefined(json);
  const problem = selfProblem(key, entry);
  if (problem !== undefined) throw new StoreError('AUDIT_CORRUPT', `last audit entry ${key}: ${problem}; run \`ferry audit verify\``);
  const checked = entry as AuditEntry;
  return { seq: checked.seq, hash: checked.hash };
}
