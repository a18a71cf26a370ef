// How many messages wait in each device's outbox, kept in memory so that posting a
// message does not list the device's whole outbox to learn whether it is full. A billing
// desk that stays offline gets a bill.paid per payment: with its outbox at the cap, every
// payment read and parsed up to MAX_PENDING_PER_DEVICE entries (BENCHMARKS.md).
//
// Exact or absent, never a guess: a count is set only by the transaction of a post or of
// an acknowledgement's removal when it commits (Tx.onCommit), from what that transaction
// saw with the mutex held. Any other committed write under a device's outbox (retention, a
// removal that was not told of the counts) makes the device's count unknown, and the next
// post counts from the store again. (Before removals kept it, every acknowledged
// bill.paid made the next post list the desk's outbox, stepping over the deleted keys of
// every message acknowledged since the last compaction: most of the iterator time in the
// inner side's profile at the maximum rate.)
//
// With the count comes a floor once post has dropped the oldest message: no message of
// the device has a key at or below it. Reading the next oldest from after the floor skips
// the deleted keys a LevelDB iterator would otherwise step over one by one from the
// prefix's start, which grow by one per dropped message.
import type { Store, Tx } from '../store/store.js';
import { OUTBOX_PREFIX } from './records.js';

export const OUTBOX_COUNT_LIMITS = Object.freeze({
  // Devices whose count is kept; past this the oldest counted is forgotten (and counted
  // again from the store when it is next posted to). A count is a few dozen bytes.
  maxDevices: 20_000,
});

export interface OutboxCount {
  waiting: number;
  floor?: string; // no message of the device has a key at or below this one
}

export class OutboxCounts {
  private readonly counts = new Map<string, OutboxCount>();
  // This transaction's count per device, once post has learned it; applied at commit.
  private readonly pending = new WeakMap<Tx, Map<string, OutboxCount>>();

  constructor(store: Store) {
    store.watchCommits((writes) => {
      for (const key of writes.keys()) {
        if (!key.startsWith(OUTBOX_PREFIX)) continue;
        const device = key.slice(OUTBOX_PREFIX.length, key.indexOf('!', OUTBOX_PREFIX.length));
        this.counts.delete(device);
      }
    });
  }

  // The device's count as this transaction sees it, if known.
  get(tx: Tx, device: string): OutboxCount | undefined {
    return this.pending.get(tx)?.get(device) ?? this.counts.get(device);
  }

  // What post left the device's outbox at, in this transaction.
  set(tx: Tx, device: string, count: OutboxCount): void {
    let mine = this.pending.get(tx);
    if (!mine) {
      const created = new Map<string, OutboxCount>();
      this.pending.set(tx, created);
      tx.onCommit(() => this.apply(created));
      mine = created;
    }
    mine.set(device, count);
  }

  private apply(mine: Map<string, OutboxCount>): void {
    for (const [device, count] of mine) {
      this.counts.delete(device); // re-inserted as the newest
      this.counts.set(device, count);
      if (this.counts.size > OUTBOX_COUNT_LIMITS.maxDevices) this.counts.delete(this.counts.keys().next().value!);
    }
  }
}
