// Replaces a file in one step, as the service will read it: a reader sees the old text or
// the new, never half of one, and the new file keeps the old one's owner, group and mode.
// An operator runs the admin commands as root, but the gateway runs as its own user; a
// file that came back as root:root 0600 would stop the next reload and the next start.
// Every file Ferry writes goes through here: rule files (replaceFile), backups
// (writeFileAtomically) and a restored store put in place (renameDurably).
import { randomBytes } from 'node:crypto';
import {
  closeSync, fchmodSync, fchownSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface ReplaceOptions {
  // Asked after the new text is on disk and before the rename; false leaves the file as it
  // is (e.g. it changed since it was read) and replaceFile returns false.
  beforeRename?: () => boolean;
}

// `path` must exist. A symbolic link is followed: the file it points to is replaced.
export function replaceFile(path: string, data: string, opts: ReplaceOptions = {}): boolean {
  const target = realpathSync(path);
  const dir = dirname(target);
  const old = statSync(target);
  // Same directory, so that the rename stays on one file system and is atomic. Hidden and
  // named after the file, so that a leftover (power cut mid-write) is plain to see.
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // Created readable by its creator only, until it has the old file's owner and mode.
  const fd = openSync(tmp, 'wx', 0o600);
  let renamed = false;
  try {
    try {
      const bytes = Buffer.from(data, 'utf8');
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
      keepOwner(fd, target, old.uid, old.gid);
      // fchmod, unlike the mode given to open, is not narrowed by the umask.
      fchmodSync(fd, old.mode & 0o7777);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (opts.beforeRename && !opts.beforeRename()) return false;
    renameSync(tmp, target);
    renamed = true;
  } finally {
    if (!renamed) unlinkSync(tmp);
  }
  // The rename itself is durable only once the directory is.
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return true;
}

function keepOwner(fd: number, path: string, uid: number, gid: number): void {
  try {
    fchownSync(fd, uid, gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    throw new Error(`${path} belongs to ${uid}:${gid}, and this user may not give a new copy that owner; `
      + 'run the command as root or as the file\'s owner. The file is unchanged.');
  }
}

// A new file written in one step from a stream: readers (and a power cut) see no file or
// the whole file, never part of one. For files too large to hold in memory, which
// replaceFile (a whole text, over an existing file) does not take: backups.
export interface AtomicWriteOptions {
  // Created with this mode (default 0600: a backup holds patient data).
  mode?: number;
  // Asked once the temporary file is complete and synced, with its path, before the
  // rename: a check that throws leaves `path` as it was and removes the temporary file.
  check?: (tmpPath: string) => Promise<void>;
}

// Writes every chunk of `source` to a hidden temporary file next to `path`, syncs it,
// then renames it over `path` and syncs the directory. Returns the bytes written.
export async function writeFileAtomically(path: string, source: AsyncIterable<Uint8Array | string>, opts: AtomicWriteOptions = {}): Promise<number> {
  const dir = dirname(path);
  // Same directory, so that the rename stays on one file system; named after the file,
  // so that a leftover of a crash is plain to see.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
  let bytes = 0;
  let renamed = false;
  try {
    try {
      for await (const chunk of source) {
        const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        for (let at = 0; at < data.length;) {
          const { bytesWritten } = await fh.write(data, at, data.length - at);
          at += bytesWritten;
        }
        bytes += data.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.check) await opts.check(tmp);
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
  await syncDirectory(dir);
  return bytes;
}

// A rename or a new directory entry is durable only once its directory is synced.
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Moves a file or a directory within one file system, durably (the rename, then its
// directory synced): how a restored store is put in place.
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDirectory(dirname(to));
}
