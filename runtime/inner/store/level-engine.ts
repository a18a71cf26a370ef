import type { Level } from 'level';
import { assert } from '../../common/errors.js';
import type { BatchOp, EngineSnapshot, Entry, EntryIterator, KeyRange, StoreEngine } from './engine.js';
import { openLevel, storePath } from './open-level.js';

// The embedded engine: one LevelDB under `<dataDir>/store`, which one process at a time
// may open. Its iterators read a snapshot taken when they are created.
export class LevelEngine implements StoreEngine {
  readonly kind = 'leveldb' as const;
  readonly snapshotAtIterator = true;
  readonly location: string;

  private constructor(private readonly db: Level<string, unknown>, dataDir: string) {
    this.location = storePath(dataDir);
  }

  static async open(dataDir: string, createIfMissing: boolean): Promise<LevelEngine> {
    return new LevelEngine(await openLevel(dataDir, createIfMissing), dataDir);
  }

  get(key: string): Promise<string | undefined> {
    return this.db.get<string, string>(key, UTF8);
  }

  getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    return this.db.getMany<string, string>(keys as string[], UTF8);
  }

  // Synchronous up to the iterator's creation: the snapshot is taken in the caller's turn.
  iterator(range: KeyRange): EntryIterator {
    return this.db.iterator<string, string>(levelRange(range, UTF8)) as unknown as LevelIterator;
  }

  keys(range: KeyRange): AsyncIterable<string> {
    return this.db.keys<string>({ ...range, keyEncoding: 'utf8' });
  }

  write(ops: readonly BatchOp[]): Promise<void> {
    // The checks db.batch() would make: the store closes only after its last batch.
    assert(this.db.status === 'open', 'the store is open while batches are written');
    return (this.db as unknown as PrivateBatch)._batch(ops, SYNC);
  }

  async snapshot(): Promise<EngineSnapshot> {
    const snapshot = this.db.snapshot();
    return {
      get: (key) => this.db.get<string, string>(key, { ...UTF8, snapshot }),
      iterator: (range) => this.db.iterator<string, string>(levelRange(range, { ...UTF8, snapshot })) as unknown as LevelIterator,
      close: () => snapshot.close(),
    };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function levelRange<O extends object>(range: KeyRange, options: O): Omit<KeyRange, 'readAheadBytes'> & O & { highWaterMarkBytes?: number } {
  if (range.readAheadBytes === undefined) return { ...range, ...options };
  const { readAheadBytes, ...bounds } = range;
  return { ...bounds, ...options, highWaterMarkBytes: readAheadBytes };
}

type LevelIterator = EntryIterator & { next(): Promise<Entry | undefined> };

const UTF8 = Object.freeze({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as { keyEncoding: 'utf8'; valueEncoding: 'utf8' };

// classic-level's implementation of batch, below abstract-level's checks and encodings:
// the public db.batch() copies each op with the options spread in and re-encodes it, 6 %
// of the inner side's CPU (BENCHMARKS.md); the commit queue hands it the final form.
interface PrivateBatch { _batch(ops: readonly BatchOp[], options: { sync: boolean }): Promise<void> }
const SYNC = Object.freeze({ sync: true });
