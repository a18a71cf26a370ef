// Replaces a file in one step, as the service will read it: a reader sees the old text or
// the new, never half of one, and the new file keeps the old one's owner, group and mode.
// An operator runs the admin commands as root, but the gateway runs as its own user; a
// file that came back as root:root 0600 would stop the next reload and the next start.
import { randomBytes } from 'node:crypto';
import {
  closeSync, fchmodSync, fchownSync, fsyncSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
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
