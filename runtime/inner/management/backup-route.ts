// GET /v1/backup (admin token): the whole store as a backup file (store/backup-file.ts),
// streamed from one consistent snapshot (Store.snapshot) as fast as the client reads
// it. The snapshot is read in batches of keys, each encoded in one turn of the event
// loop, so payments go on meanwhile; nothing is held but the batch in hand and the
// socket's buffers. One backup at a time: two would double the load for no gain.
import type http from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { Logger } from '../../common/logger.js';
import { buildInfo } from '../../common/build-info.js';
import type { Store } from '../store/store.js';
import { BACKUP_ENCODING, BACKUP_FILE_SUFFIX, encodeBackup, type BackupHeader, type KeyBatches } from '../store/backup-file.js';
import { auditHeadOf, batchesOf } from '../store/snapshot.js';
import { CURRENT_FORMAT } from '../store/format.js';

export const BACKUP_ROUTE = '/v1/backup';
export const BACKUP_AUDIT_KIND = 'management.backup';

export class BackupBusy extends Error {}

// A route's answer that is a stream rather than one JSON body.
export class StreamedAnswer {
  constructor(readonly headers: Record<string, string>, readonly body: Readable, private readonly done: (err: Error | null) => void) {}

  sendTo(res: http.ServerResponse): void {
    res.writeHead(200, this.headers);
    // A client that goes away (or the server closing) destroys the body, which closes
    // the snapshot's iterator.
    pipeline(this.body, res, (err) => this.done(err ?? null));
  }
}

export class Backups {
  private running = false;

  // `now` is the gateway's clock: the backup's created time.
  constructor(private readonly store: Store, private readonly log: Logger, private readonly now: () => number) {}

  async open(): Promise<StreamedAnswer> {
    if (this.running) throw new BackupBusy('a backup is being taken; wait for it to finish');
    this.running = true;
    try {
      // Who took the patients' data away is worth keeping; the backup holds this entry.
      await this.store.audit({ kind: BACKUP_AUDIT_KIND });
      const snapshot = await this.store.snapshot();
      const createdAt = new Date(this.now()).toISOString();
      // The head is read from the snapshot itself, so the two cannot disagree.
      const auditHead = await auditHeadOf(snapshot).catch(async (err: unknown) => {
        await snapshot.close();
        throw err;
      });
      const { version, commit } = buildInfo();
      const header: BackupHeader = { ferryBackup: BACKUP_ENCODING, storeFormat: CURRENT_FORMAT, ferryVersion: version, commit, createdAt, auditHead, reason: 'backup' };
      const started = performance.now();
      let keys = 0;
      const counted = async function* (batches: KeyBatches) {
        for await (const batch of batches) {
          keys += batch.length;
          yield batch;
        }
      };
      const stamp = header.createdAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      const body = encodeBackup(header, counted(batchesOf(snapshot)));
      this.log.info({ auditSeq: header.auditHead.seq, storeFormat: header.storeFormat }, 'backup started');
      return new StreamedAnswer({
        'content-type': 'application/gzip',
        'content-disposition': `attachment; filename="ferry-${stamp}${BACKUP_FILE_SUFFIX}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      }, body, (err) => {
        this.running = false;
        const ms = Math.round(performance.now() - started);
        if (err) this.log.warn({ err: err.message, keys, ms }, 'backup not finished: the client went away or the stream failed');
        else this.log.info({ keys, ms, auditSeq: header.auditHead.seq }, 'backup sent');
      });
    } catch (err) {
      this.running = false;
      throw err;
    }
  }
}
