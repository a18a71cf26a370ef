// `ferry restore FILE --data DIR`: a backup file (backup-file.ts) written into a fresh
// store in a temporary directory inside DIR, checked whole (the file's checksum and
// count, its format, the restored audit chain and its head against the header), and only
// then sealed (a new instance tag, a store.restored audit entry) and moved into place as
// DIR/store. Until that rename DIR/store is untouched; a store already there is
// refused, or with `force` kept aside as DIR/store.replaced-<time>.
// The lock of an existing store is held from the check to the rename, so a gateway
// cannot start on it meanwhile, and a running one makes the restore refuse.
import { randomBytes } from 'node:crypto';
import { access, chown, mkdir, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Level } from 'level';
import { renameDurably, syncDirectory } from '../../common/replace-file.js';
import { nextEntryText, parseOrUndefined, type AuditEntry, type AuditHead, EMPTY_HEAD } from './audit.js';
import { readBackup, type BackupHeader, type BackupTrailer } from './backup-file.js';
import { StoreError } from './errors.js';
import { CURRENT_FORMAT, FORMAT_KEY } from './format.js';
import { AUDIT_PREFIX, auditKey, prefixUpperBound } from './keys.js';
import { INSTANCE_KEY, newInstanceTag } from '../ids.js';
import { RESTORE_BATCH_KEYS } from './limits.js';
import { newerFormatError } from './migrate.js';
import { openLevel, storePath } from './open-level.js';
import { verifyAudit, type AuditVerdict } from './verify.js';

export interface RestoreOptions {
  force: boolean;
  now: () => Date; // names the kept-aside store
}

export interface RestoreReport {
  header: BackupHeader;
  trailer: BackupTrailer;
  verdict: AuditVerdict; // of the chain as the backup holds it
  auditHead: AuditHead; // after the store.restored entry
  instanceTag: string; // the restored store's new one
  replaced?: string; // where the store that was in DIR went
  seconds: number;
}

export const RESTORED_KIND = 'store.restored';

const UTF8 = Object.freeze({ keyEncoding: 'utf8', valueEncoding: 'utf8' }) as { keyEncoding: 'utf8'; valueEncoding: 'utf8' };

export async function restoreBackup(file: string, dataDir: string, o: RestoreOptions): Promise<RestoreReport> {
  const started = performance.now();
  await access(file); // a missing file is said as such before DIR is looked at
  // A DIR made here goes again if nothing is restored into it.
  const made = await mkdir(dataDir, { recursive: true });
  const target = storePath(dataDir);
  let moved = false;
  const existing = await holdExisting(dataDir, o.force).catch(async (err: unknown) => {
    if (made !== undefined) await unmake(dataDir, made);
    throw err;
  });
  const tmpDir = join(dataDir, `.restore-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const { header, trailer } = await writeInto(file, tmpDir);
    const verdict = await verifyAudit(tmpDir);
    if (!verdict.ok) {
      const b = verdict.firstBroken!;
      throw new StoreError('BACKUP_CHAIN', `${file}: the audit chain in the backup is broken at entry ${b.seq} (${b.key}): ${b.reason}; nothing was restored`);
    }
    const head = await lastAuditHead(tmpDir);
    if (head.seq !== header.auditHead.seq || head.hash !== header.auditHead.hash) {
      throw new StoreError('BACKUP_CHAIN', `${file}: the restored audit chain ends at seq ${head.seq} (${head.hash.slice(0, 16)}…), but the backup's header names seq ${header.auditHead.seq} (${header.auditHead.hash.slice(0, 16)}…); nothing was restored`);
    }
    const restored = await seal(tmpDir, head, file, header, o.now());
    await giveToOwnerOf(dataDir, storePath(tmpDir));
    let replaced: string | undefined;
    if (existing) {
      replaced = join(dataDir, `store.replaced-${o.now().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`);
      await renameDurably(target, replaced);
    }
    try {
      await renameDurably(storePath(tmpDir), target);
    } catch (err) {
      // The old store goes back where it was: DIR as it was found.
      if (replaced) await renameDurably(replaced, target);
      throw err;
    }
    moved = true;
    return { header, trailer, verdict, ...restored, ...(replaced ? { replaced } : {}), seconds: (performance.now() - started) / 1000 };
  } finally {
    await existing?.close();
    await rm(tmpDir, { recursive: true, force: true });
    if (!moved && made !== undefined) await unmake(dataDir, made);
    else if (!moved) await syncDirectory(dataDir).catch(() => undefined);
  }
}

// Removes the directories mkdir made for DIR (DIR up to the first one made), when empty.
async function unmake(dataDir: string, made: string): Promise<void> {
  for (let dir = dataDir; ; dir = dirname(dir)) {
    if (!(await rmdir(dir).then(() => true, () => false)) || dir === made || dirname(dir) === dir) return;
  }
}

// An operator restores as root, but the gateway runs as its own user, the owner of DIR:
// a store left to root would not open at the next start.
async function giveToOwnerOf(dataDir: string, dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = await stat(dataDir);
  if (uid === 0 && gid === 0) return;
  await chown(dir, uid, gid);
  for (const name of await readdir(dir)) await chown(join(dir, name), uid, gid);
}

// The store already in DIR, opened to hold its lock until the swap; undefined if none.
async function holdExisting(dataDir: string, force: boolean): Promise<Level<string, unknown> | undefined> {
  const target = storePath(dataDir);
  const entries = await readdir(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (entries === undefined) return undefined;
  if (entries.length === 0) {
    await rm(target, { recursive: true, force: true });
    return undefined;
  }
  let db: Level<string, unknown>;
  try {
    db = await openLevel(dataDir, false);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'STORE_LOCKED') {
      throw new StoreError('RESTORE_TARGET', `the store in ${target} is held by a running gateway: stop it first (systemctl stop ferry-inner); nothing was restored`, { cause: err });
    }
    throw new StoreError('RESTORE_TARGET', `${target} exists but is not a store that opens (${(err as Error).message}); move it away first; nothing was restored`, { cause: err });
  }
  if (!force) {
    await db.close();
    throw new StoreError('RESTORE_TARGET', `${target} already holds a store; give --force to replace it (it is kept aside as store.replaced-…, not deleted); nothing was restored`);
  }
  return db;
}

async function writeInto(file: string, tmpDir: string): Promise<{ header: BackupHeader; trailer: BackupTrailer }> {
  const db = new Level<string, string>(storePath(tmpDir), { createIfMissing: true, errorIfExists: true, valueEncoding: 'utf8' });
  await db.open();
  let formatKey: string | undefined;
  let pending: Array<{ type: 'put'; key: string; value: string }> = [];
  const write = async (sync: boolean) => {
    const ops = pending;
    pending = [];
    if (ops.length > 0 || sync) await db.batch(ops, { sync, ...UTF8 });
  };
  try {
    const result = await readBackup(file, {
      header(header) {
        if (header.storeFormat > CURRENT_FORMAT) throw newerFormatError(`the backup ${file}`, header.storeFormat);
      },
      async keys(batch) {
        for (const [key, value] of batch) {
          if (key === FORMAT_KEY) formatKey = value;
          pending.push({ type: 'put', key, value });
        }
        if (pending.length >= RESTORE_BATCH_KEYS) await write(false);
      },
    });
    // The file's header and the store it holds agree on the format.
    const format = formatKey === undefined ? 1 : Number(formatKey);
    if (format !== result.header.storeFormat) {
      throw new StoreError('BACKUP_DAMAGED', `${file}: its header says store format ${result.header.storeFormat}, the store it holds is format ${formatKey ?? '1 (no format key)'}`);
    }
    await write(true); // the last batch synced: LevelDB syncs the log, and its tables as it writes them
    return result;
  } finally {
    await db.close();
  }
}

// The restored store, once verified, gets a new instance tag (ids.ts: the ids handed out
// after the backup must not come again) and an audit entry saying where it came from,
// in one synced batch.
async function seal(dir: string, head: AuditHead, file: string, header: BackupHeader, now: Date): Promise<{ auditHead: AuditHead; instanceTag: string }> {
  const db = new Level<string, string>(storePath(dir), { valueEncoding: 'utf8' });
  await db.open();
  try {
    const old = await db.get(INSTANCE_KEY);
    const oldTag = old === undefined ? undefined : JSON.parse(old) as string;
    const tag = newInstanceTag(oldTag);
    const { entry, text } = nextEntryText(head, {
      kind: RESTORED_KIND, backup: file, backupCreatedAt: header.createdAt, backupAuditSeq: header.auditHead.seq,
      storeFormat: header.storeFormat, ...(oldTag !== undefined ? { instanceTagBefore: oldTag } : {}), instanceTag: tag,
    }, now);
    await db.batch([
      { type: 'put', key: INSTANCE_KEY, value: JSON.stringify(tag) },
      { type: 'put', key: auditKey(entry.seq), value: text },
    ], { sync: true, ...UTF8 });
    return { auditHead: { seq: entry.seq, hash: entry.hash }, instanceTag: tag };
  } finally {
    await db.close();
  }
}

async function lastAuditHead(dir: string): Promise<AuditHead> {
  const db = new Level<string, string>(storePath(dir), { valueEncoding: 'utf8' });
  await db.open();
  try {
    const rows = await db.iterator({ gte: AUDIT_PREFIX, lt: prefixUpperBound(AUDIT_PREFIX)!, reverse: true, limit: 1 }).all();
    if (rows.length === 0) return EMPTY_HEAD;
    const entry = parseOrUndefined(rows[0]![1]) as AuditEntry;
    return { seq: entry.seq, hash: entry.hash };
  } finally {
    await db.close();
  }
}
