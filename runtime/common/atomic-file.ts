// A new file written in one step from a stream: readers (and a power cut) see no file or
// the whole file, never part of one. For files too large to hold in memory, which
// replace-file.ts (a whole text, over an existing file) does not take: backups.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

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
