// An in-memory filter of the request ids the store holds an idempotency record for, in
// front of the lookup every request makes. Nearly every request is new, and asking LevelDB
// to confirm that was a disk read per request (BENCHMARKS.md). A Bloom filter answers
// "maybe" for every id it was given and, rarely, for one it was not (that costs the read
// the gap made anyway); it never answers "new" for an id the store has:
// - at start it is built from every idempotency key on disk and in the overlay, after it
//   started watching commits, so a record committed during the scan is not missed;
// - every committed write of an idempotency key is added as it commits, before the
//   transaction's mutex is released (Store.watchCommits);
// - deleted records (retention) stay in it: a stale "maybe" only costs a read.
// Past SEEN_REQUEST_LIMITS.keys additions it is rebuilt from the store in the background,
// the old filter answering meanwhile, so its memory stays SEEN_REQUEST_LIMITS.bytes (twice
// that during a rebuild) and its false "maybe"s rare.
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import { KEYSPACE } from '../store/keyspace.js';

export interface SeenRequestLimits { bytes: number; hashes: number; keys: number }

export const SEEN_REQUEST_LIMITS: Readonly<SeenRequestLimits> = Object.freeze({
  bytes: 2 * 1024 * 1024, // 16.8 million bits
  hashes: 7,
  // Keys added before a rebuild: at 16.8 bits per key and 7 hashes, about 1 false
  // "maybe" in 1,800 requests at the worst.
  keys: 1_000_000,
});

const PREFIX = KEYSPACE.idem.prefix;

export class BloomFilter {
  private readonly bits: Uint32Array;
  private readonly size: number; // in bits
  added = 0;

  constructor(bytes: number, private readonly hashes: number) {
    this.bits = new Uint32Array(Math.max(1, Math.floor(bytes / 4)));
    this.size = this.bits.length * 32;
  }

  add(key: string): void {
    const [h1, h2] = hashPair(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.added += 1;
  }

  mightHave(key: string): boolean {
    const [h1, h2] = hashPair(key);
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.size;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

// Two independent 32-bit hashes of the UTF-16 units (FNV-1a, and a multiplicative one
// finished with murmur3's mixer); h2 is odd so that the probes differ.
function hashPair(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b);
  b ^= b >>> 13;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return [a >>> 0, (b | 1) >>> 0];
}

export class SeenRequests {
  private filter: BloomFilter;
  private next: BloomFilter | undefined; // being built: commits go to both
  private rebuilding: Promise<void> | undefined;

  private constructor(private readonly store: Store, private readonly log: Logger, private readonly limits: Readonly<SeenRequestLimits>) {
    this.filter = new BloomFilter(limits.bytes, limits.hashes);
    store.watchCommits((writes) => {
      for (const [key, json] of writes) {
        if (json === undefined || !key.startsWith(PREFIX)) continue;
        this.filter.add(key);
        this.next?.add(key);
      }
      if (this.filter.added > this.limits.keys && !this.rebuilding) this.rebuild();
    });
  }

  // Watching from before the scan, so that nothing committed meanwhile is missed.
  static async open(store: Store, log: Logger, limits: Readonly<SeenRequestLimits> = SEEN_REQUEST_LIMITS): Promise<SeenRequests> {
    const seen = new SeenRequests(store, log, limits);
    await store.forEachKey(PREFIX, (key) => seen.filter.add(key));
    return seen;
  }

  // false only if the store has no idempotency record under this key.
  mightHave(key: string): boolean {
    return this.filter.mightHave(key);
  }

  // Settles when a rebuild under way has finished (for tests).
  settled(): Promise<void> {
    return this.rebuilding ?? Promise.resolve();
  }

  private rebuild(): void {
    const next = new BloomFilter(this.limits.bytes, this.limits.hashes);
    this.next = next;
    this.rebuilding = this.store.forEachKey(PREFIX, (key) => next.add(key)).then(() => {
      this.filter = next;
    }, (err: Error) => {
      this.log.warn({ err: err.message }, 'rebuilding the filter of seen request ids failed; the old one stays');
    }).finally(() => {
      this.next = undefined;
      this.rebuilding = undefined;
    });
  }
}
