// A consistent view of the whole store, read as it was at one moment however long the
// reader takes: what a backup streams (backup-file.ts). A LevelDB iterator reads an
// implicit snapshot taken when it is created; Store.snapshot creates it with the mutex
// held and every committed write on disk, and the migration (migrate.ts) before the
// store serves anyone.
import type { Level } from 'level';
import type { AuditHead } from './audit.js';
import { BACKUP_BATCH_KEYS, BACKUP_READ_BYTES } from './limits.js';

export interface StoreSnapshot {
  auditHead: AuditHead; // the last audit entry in the snapshot
  at: Date; // the store's clock when it was taken
  // Every key and its stored JSON text, in key order, in batches; read once. Breaking
  // out of the loop (or an error) closes the iterator and lets the snapshot go.
  batches: AsyncIterable<ReadonlyArray<readonly [string, string]>>;
}

type Iterator = ReturnType<Level<string, unknown>['iterator']>;

// Opens the iterator now (synchronously: this is the moment of the snapshot).
export function openSnapshotIterator(db: Level<string, unknown>): Iterator {
  return db.iterator<string, string>({ keyEncoding: 'utf8', valueEncoding: 'utf8', highWaterMarkBytes: BACKUP_READ_BYTES }) as unknown as Iterator;
}

export async function* batchesOf(iterator: Iterator): AsyncGenerator<ReadonlyArray<readonly [string, string]>> {
  try {
    for (;;) {
      const batch = await iterator.nextv(BACKUP_BATCH_KEYS) as Array<[string, string]>;
      if (batch.length === 0) return;
      yield batch;
    }
  } finally {
    await iterator.close();
  }
}
