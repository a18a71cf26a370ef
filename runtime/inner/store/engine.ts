// What the store needs from the disk: the one seam between the store's single
// implementation (transactions, overlay, group commit, audit chain, retention, queries)
// and the engine that keeps the bytes (LevelDB in the data directory, or PostgreSQL).
// Keys are strings ordered as LevelDB orders them (by their UTF-8 bytes, compareKeys in
// keys.ts); values are JSON text, stored and returned as is.

export type Entry = [key: string, value: string];

// A key range, as LevelDB's iterator options: at most one lower bound.
export interface KeyRange {
  gte?: string;
  gt?: string;
  lt?: string;
  reverse?: boolean;
  limit?: number;
  readAheadBytes?: number; // a hint: how much to read ahead in one go (long walks)
}

// Entries of a range in key order (reversed with `reverse`). next() gives undefined at
// the end; nextv(n) up to n entries, none at the end. close() always, also after an error.
export interface EntryIterator {
  next(): Promise<Entry | undefined>;
  nextv(size: number): Promise<Entry[]>;
  close(): Promise<void>;
}

// A write of the batch: `value` is the JSON text of a put, undefined for a delete. The
// shape is classic-level's own batch op, so that the LevelDB engine hands it on as is.
export interface BatchOp {
  type: 'put' | 'del';
  key: string;
  value: string | undefined;
}

// Reads from one instant: every read of a snapshot sees the same state, whatever is
// written meanwhile. close() releases it (always).
export interface EngineSnapshot {
  get(key: string): Promise<string | undefined>;
  iterator(range: KeyRange): EntryIterator;
  close(): Promise<void>;
}

export type EngineKind = 'leveldb' | 'postgres';

export interface StoreEngine {
  readonly kind: EngineKind;
  // Where the store lives, for the log and for errors (a path, or a database without
  // its password).
  readonly location: string;
  // True when an iterator reads the state as of the moment iterator() is called
  // (LevelDB takes a snapshot then), false when it reads what is there when its first
  // entries are fetched (PostgreSQL: a query runs later). The store's listings lay the
  // overlay over the disk and need to know whether the two are from the same instant.
  readonly snapshotAtIterator: boolean;
  get(key: string): Promise<string | undefined>;
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  iterator(range: KeyRange): EntryIterator;
  keys(range: KeyRange): AsyncIterable<string>;
  // Applies the ops in order, all or nothing, and resolves once they are durable. The
  // store calls it from one writer at a time. `ops` is not kept past the call.
  write(ops: readonly BatchOp[]): Promise<void>;
  // A consistent view of everything (backup, verification of a running store).
  snapshot(): Promise<EngineSnapshot>;
  close(): Promise<void>;
}

// Reads every entry of a range through an iterator, closing it.
export async function readAll(it: EntryIterator, chunk = 1_000): Promise<Entry[]> {
  const out: Entry[] = [];
  try {
    for (;;) {
      const batch = await it.nextv(chunk);
      if (batch.length === 0) return out;
      for (const entry of batch) out.push(entry);
    }
  } finally {
    await it.close();
  }
}
