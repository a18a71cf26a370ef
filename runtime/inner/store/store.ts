import { mkdir } from 'node:fs/promises';
import type { Logger } from '../../common/logger.js';
import { assert } from '../../common/errors.js';
import { EMPTY_HEAD, parseOrUndefined, selfProblem, type AuditEntry, type AuditEvent, type AuditHead } from './audit.js';
import { openEngine, type RetryClock, type StoreBackend } from './backend.js';
import { CommitQueue } from './commit-queue.js';
import type { EngineKind, EngineSnapshot, StoreEngine } from './engine.js';
import { StoreError } from './errors.js';
import { AUDIT_PREFIX, prefixUpperBound } from './keys.js';
import { MAX_LIST_ENTRIES, MAX_LIST_RETRIES } from './limits.js';
import { mergeList, type ListOptions } from './merge.js';
import { FifoMutex } from './mutex.js';
import { settleFormat } from './migrate.js';
import { StoreTx, type CommittedView, type Tx } from './tx.js';

export type { Tx } from './tx.js';
export type { AuditEvent, AuditEntry } from './audit.js';
export type { ListOptions } from './merge.js';
export type { StoreBackend, RetryClock } from './backend.js';
export { verifyAudit, type AuditVerdict } from './verify.js';
import { verifyAuditOf, type AuditVerdict } from './verify.js';

export interface StoreOptions {
  now?: () => Date; // the clock stamped on audit entries; simulators inject their own
  // For reading a stopped gateway's store (`ferry query --data`): the directory must
  // already hold a store, and nothing is ever written to it; a transaction is a bug.
  readOnly?: boolean;
  // Where the store lives (gateway.yaml `store`); LevelDB under dataDir by default.
  backend?: StoreBackend;
  // The PostgreSQL engine's clock for retrying a write while the server is away.
  retryClock?: RetryClock;
}

// What the metrics are told (runtime/inner/metrics/): the audit events of each
// transaction once it is durable (what happened, as the audit log says it), each synced
// batch's size and time, and each verification of the chain.
export interface StoreObserver {
  committed(events: readonly AuditEvent[]): void;
  synced(writes: number, seconds: number): void;
  verified(verdict: AuditVerdict, atMs: number): void;
}

// The inner side's one store, on one engine (engine.ts: LevelDB in `<dataDir>/store`, or
// PostgreSQL). Transactions run one at a time; a
// transaction's writes are visible to everyone as soon as its fn returns and are
// acknowledged (transact resolves) only once synced to disk, many transactions sharing
// one fsync (see CommitQueue). Nothing here is reachable from the outer side.
export class Store implements CommittedView {
  private readonly mutex = new FifoMutex();
  private readonly queue: CommitQueue;
  private closing: Promise<void> | undefined;
  private observer: StoreObserver | undefined;
  private readonly watchers: Array<(writes: ReadonlyMap<string, string | undefined>) => void> = [];
  private readonly auditListeners: Array<(entries: readonly AuditEntry[]) => void> = [];

  private constructor(
    private readonly engine: StoreEngine,
    private readonly log: Logger,
    private head: AuditHead,
    private readonly now: () => Date,
    private readonly readOnly: boolean,
  ) {
    this.queue = new CommitQueue(engine, log);
  }

  static async open(dataDir: string, log: Logger, options: StoreOptions = {}): Promise<Store> {
    assert(typeof dataDir === 'string', 'dataDir is a string');
    assert(dataDir.length > 0, 'dataDir is not empty');
    const readOnly = options.readOnly === true;
    const backend = options.backend;
    const onLevel = backend === undefined || backend.kind === 'leveldb';
    if (!readOnly && onLevel) await mkdir(dataDir, { recursive: true });
    const engine = await openEngine(dataDir, backend, { createIfMissing: !readOnly, log, ...(options.retryClock ? { retryClock: options.retryClock } : {}) });
    try {
      // Store format hook (format.ts, migrate.ts): stamps a new store, refuses a newer
      // format, migrates an older one (backup first); the head after any migration.
      const head = await settleFormat(engine, { dataDir, log, readOnly, now: options.now ?? (() => new Date()), head: await loadAuditHead(engine) });
      log.info({ backend: engine.kind, location: engine.location, auditSeq: head.seq, readOnly }, 'store open');
      return new Store(engine, log, head, options.now ?? (() => new Date()), readOnly);
    } catch (err) {
      await engine.close();
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

  // fn sees the audit entries of every transaction once they are durable, in the order
  // the transactions resolve, before the transaction's caller goes on: a view of the
  // chain's tail (the console's) follows it without reading the chain again.
  onAudited(fn: (entries: readonly AuditEntry[]) => void): void {
    this.auditListeners.push(fn);
  }

  private tell(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, 'store observer failed');
    }
  }

  // Why the store refuses writes for good, if it does: STORE_FAILED (a batch write
  // failed) or FENCED (another gateway of a pair is active on the database).
  get failure(): StoreError | undefined {
    return this.queue.failed;
  }

  // Open, and taking writes: not closing, and no batch write has failed.
  get writable(): boolean {
    return !this.closing && !this.queue.failed;
  }

  // batches and writes count what reached the disk; transactions counts commits.
  get stats(): { batches: number; writes: number; transactions: number } {
    return { ...this.queue.stats };
  }

  // A consistent view of the whole disk once everything committed so far is on it (a
  // backup reads it). The caller closes it.
  async snapshot(): Promise<EngineSnapshot> {
    await this.durable();
    return this.engine.snapshot();
  }

  get engineKind(): EngineKind {
    return this.engine.kind;
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
    const json = await this.engine.get(key);
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
    const texts = await this.engine.getMany(fromDisk.map((i) => keys[i]!));
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
  // over the disk. Everything before mergeList's first await runs in one turn, so on
  // LevelDB the overlay copy and the disk snapshot agree. On an engine that reads later
  // (PostgreSQL), a batch synced meanwhile may hold commits newer than the overlay copy:
  // then the listing is read again, and in the end under the mutex, where nothing commits.
  async listRaw(prefix: string, own: Array<[string, string | undefined]>, opts: ListOptions = {}): Promise<Array<[string, string]>> {
    assert(typeof prefix === 'string', 'a prefix is a string');
    const limit = opts.limit ?? MAX_LIST_ENTRIES + 1;
    assert(Number.isSafeInteger(limit), 'a list limit is an integer');
    assert(limit >= 0, 'a list limit is not negative');
    assert(limit <= MAX_LIST_ENTRIES + 1, 'a list limit is at most MAX_LIST_ENTRIES');
    if (opts.after !== undefined) {
      assert(opts.after.startsWith(prefix), 'a list cursor lies under the prefix');
      assert(opts.reverse !== true, 'a list cursor goes forward');
    }
    const once = async (): Promise<{ rows: Array<[string, string]>; consistent: boolean }> => {
      const commitsBefore = this.queue.commitCount;
      const upper = new Map(this.queue.pendingUnder(prefix));
      for (const [key, json] of own) upper.set(key, json);
      const rows = await mergeList(this.engine, prefix, [...upper], limit, opts.reverse === true, opts.after);
      return { rows, consistent: this.engine.snapshotAtIterator || this.queue.syncedCommitCount <= commitsBefore };
    };
    let { rows, consistent } = await once();
    for (let retry = 0; !consistent && retry < MAX_LIST_RETRIES; retry++) ({ rows, consistent } = await once());
    if (!consistent) {
      // Only a read outside a transaction gets here: inside one, nothing else commits.
      await this.mutex.acquire();
      try {
        ({ rows } = await once());
      } finally {
        this.mutex.release();
      }
    }
    if (rows.length > MAX_LIST_ENTRIES) throw new StoreError('LIST_TOO_LARGE', `more than ${MAX_LIST_ENTRIES} keys under ${prefix}`);
    return rows;
  }

  // Every key under prefix, disk and overlay, in no particular order (a pending delete's
  // key may be visited): keys only, streamed, for in-memory filters built at start.
  async forEachKey(prefix: string, visit: (key: string) => void): Promise<void> {
    assert(typeof prefix === 'string', 'a prefix is a string');
    for (const [key, json] of this.queue.pendingUnder(prefix)) if (json !== undefined) visit(key);
    const lt = prefixUpperBound(prefix);
    for await (const key of this.engine.keys({ gte: prefix, ...(lt === undefined ? {} : { lt }) })) visit(key);
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
    const entries = tx.entries;
    if (entries.length > 0) {
      const observer = this.observer;
      if (observer) this.tell(() => observer.committed(entries.map((e) => e.event)));
      for (const listen of this.auditListeners) this.tell(() => listen(entries));
    }
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
    const verdict = await verifyAuditOf(this.engine);
    const observer = this.observer;
    if (observer) this.tell(() => observer.verified(verdict, this.now().getTime()));
    return verdict;
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
    await this.engine.close();
    this.log.info('store closed');
  }
}

// Continues the chain from the last entry on disk, after checking that entry on its own.
async function loadAuditHead(engine: StoreEngine): Promise<AuditHead> {
  const lt = prefixUpperBound(AUDIT_PREFIX)!;
  const it = engine.iterator({ gte: AUDIT_PREFIX, lt, reverse: true, limit: 1 });
  let last: [string, string] | undefined;
  try {
    last = await it.next();
  } finally {
    await it.close();
  }
  if (!last) return EMPTY_HEAD;
  const [key, json] = last;
  const entry = parseOrUndefined(json);
  const problem = selfProblem(key, entry);
  if (problem !== undefined) throw new StoreError('AUDIT_CORRUPT', `last audit entry ${key}: ${problem}; run \`ferry audit verify\``);
  const checked = entry as AuditEntry;
  return { seq: checked.seq, hash: checked.hash };
}
