// A backup of the whole store in one file (`.ferrybak`): gzip'd NDJSON, written and read
// as a stream, so that a store of millions of keys is never held in memory.
//
//   line 1       the header: {"ferryBackup":1,"storeFormat":2,"ferryVersion":…,"commit":…,
//                "createdAt":…,"auditHead":{"seq":N,"hash":…},"reason":"backup"}
//   lines 2..    one key each, in key order: ["order!P…","{…the value's JSON text…}"]
//   last line    the trailer: {"end":{"keys":N,"sha256":"…"}}
//
// The value is kept as its stored text (a JSON string inside the line), so a restore
// writes back byte for byte what was stored: an audit entry's stored form matters to
// its verification. The SHA-256 covers every byte of the uncompressed lines before the
// trailer, newlines included; gzip's own CRC catches most damage before it. The key
// count is in the trailer because the file is written in one pass over the snapshot.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import type { AuditHead } from './audit.js';
import { StoreError } from './errors.js';
import { compareKeys } from './keys.js';
import { BACKUP_BATCH_KEYS, BACKUP_GZIP_LEVEL, BACKUP_LINE_BYTES_MAX } from './limits.js';

export const BACKUP_ENCODING = 1;
export const BACKUP_FILE_SUFFIX = '.ferrybak';

export interface BackupHeader {
  ferryBackup: typeof BACKUP_ENCODING;
  storeFormat: number; // format.ts
  ferryVersion: string;
  commit: string;
  createdAt: string; // the gateway's clock when the snapshot was taken
  auditHead: AuditHead; // the last audit entry in the snapshot (seq 0: none)
  reason: 'backup' | 'before-migration';
}

export interface BackupTrailer {
  keys: number;
  sha256: string;
}

export type { KeyBatches } from './snapshot.js';
import type { KeyBatches } from './snapshot.js';

// The file's bytes, produced as fast as the reader takes them (backpressure reaches the
// snapshot's iterator through the async generator).
export function encodeBackup(header: BackupHeader, batches: KeyBatches): Readable {
  async function* lines(): AsyncGenerator<Buffer | string> {
    const sha = createHash('sha256');
    let keys = 0;
    const first = `${JSON.stringify(header)}\n`;
    sha.update(first);
    yield first;
    for await (const batch of batches) {
      let text = '';
      for (const [key, json] of batch) text += `[${JSON.stringify(key)},${JSON.stringify(json)}]\n`;
      keys += batch.length;
      // Encoded once, for the hash and the compressor alike.
      const bytes = Buffer.from(text, 'utf8');
      sha.update(bytes);
      yield bytes;
    }
    yield `${JSON.stringify({ end: { keys, sha256: sha.digest('hex') } satisfies BackupTrailer })}\n`;
  }
  const source = Readable.from(lines(), { objectMode: false });
  const gzip = createGzip({ level: BACKUP_GZIP_LEVEL });
  source.on('error', (err) => gzip.destroy(err));
  gzip.on('close', () => source.destroy());
  return source.pipe(gzip);
}

export interface BackupVisitor {
  // Checked before any key is read; throws to refuse the backup.
  header?(header: BackupHeader): void | Promise<void>;
  // Keys in order, in batches; awaited, so a slow writer slows the reading. Without it
  // the key lines are counted and hashed, not parsed (the check of a file just written).
  keys?(batch: Array<[string, string]>): void | Promise<void>;
}

// Reads and checks a backup file: the header, every line, the key order, the count and
// the checksum. Refuses (StoreError BACKUP_DAMAGED, BACKUP_CHECKSUM) at the first fault;
// a visitor has then seen keys of a backup that is refused, and must drop them.
export async function readBackup(file: string, visit: BackupVisitor = {}): Promise<{ header: BackupHeader; trailer: BackupTrailer }> {
  const damaged = (why: string, cause?: unknown) => new StoreError('BACKUP_DAMAGED', `${file}: ${why}`, cause === undefined ? undefined : { cause });
  const sha = createHash('sha256');
  const decoder = new StringDecoder('utf8');
  let header: BackupHeader | undefined;
  let trailer: BackupTrailer | undefined;
  let lineNo = 0;
  let keys = 0;
  let lastKey: string | undefined;
  let pending = '';
  let batch: Array<[string, string]> = [];

  const flush = async () => {
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    await visit.keys?.(out);
  };
  const parseRows = visit.keys !== undefined;
  // Returns whether the line is hashed (all but the trailer); the caller hashes whole
  // runs of lines at once.
  const line = async (text: string): Promise<boolean> => {
    lineNo += 1;
    if (trailer) throw damaged(`line ${lineNo}: more after the trailer`);
    if (header === undefined) {
      header = headerOf(text);
      if (!header) throw damaged('line 1 is not the header of a Ferry backup');
      await visit.header?.(header);
      return true;
    }
    if (text.startsWith('{"end":')) {
      trailer = trailerOf(text);
      if (!trailer) throw damaged(`line ${lineNo}: a malformed trailer`);
      return false;
    }
    keys += 1;
    if (!parseRows) {
      if (!text.startsWith('["') || !text.endsWith('"]')) throw damaged(`line ${lineNo}: not a key and its value`);
      return true;
    }
    const row = rowOf(text);
    if (!row) throw damaged(`line ${lineNo}: not a key and its value`);
    // Code-unit order first (cheap); LevelDB's byte order decides only where they differ.
    if (lastKey !== undefined && !(lastKey < row[0]) && compareKeys(lastKey, row[0]) >= 0) throw damaged(`line ${lineNo}: key ${JSON.stringify(row[0].slice(0, 80))} out of order`);
    lastKey = row[0];
    batch.push(row);
    if (batch.length >= BACKUP_BATCH_KEYS) await flush();
    return true;
  };

  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  try {
    for await (const chunk of input.pipe(gunzip)) {
      pending += decoder.write(chunk as Buffer);
      let at = pending.indexOf('\n');
      let from = 0;
      let hashed = 0;
      while (at !== -1) {
        if (!(await line(pending.slice(from, at)))) {
          sha.update(pending.slice(hashed, from));
          hashed = at + 1;
        }
        from = at + 1;
        at = pending.indexOf('\n', from);
      }
      if (hashed < from) sha.update(pending.slice(hashed, from));
      pending = pending.slice(from);
      if (pending.length > BACKUP_LINE_BYTES_MAX) throw damaged(`line ${lineNo + 1} is longer than any record`);
    }
  } catch (err) {
    if (err instanceof StoreError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw err;
    throw damaged(`not a whole gzip file (${(err as Error).message})`, err);
  } finally {
    input.destroy();
  }
  pending += decoder.end();
  if (pending.length > 0) throw damaged(`the last line (${lineNo + 1}) is cut short: the file is truncated`);
  if (!header) throw damaged('empty: not a Ferry backup');
  if (!trailer) throw damaged(`ends after line ${lineNo} without its trailer: the file is truncated`);
  await flush();
  if (trailer.keys !== keys) throw damaged(`holds ${keys} keys, its trailer says ${trailer.keys}`);
  const sum = sha.digest('hex');
  if (sum !== trailer.sha256) throw new StoreError('BACKUP_CHECKSUM', `${file}: the content's SHA-256 is ${sum}, the trailer says ${trailer.sha256}: the file was changed after it was written`);
  return { header, trailer };
}

const HEX64 = /^[0-9a-f]{64}$/;

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function headerOf(text: string): BackupHeader | undefined {
  const h = parse(text) as Partial<BackupHeader> | undefined;
  if (typeof h !== 'object' || h === null || h.ferryBackup !== BACKUP_ENCODING) return undefined;
  if (!Number.isSafeInteger(h.storeFormat) || h.storeFormat! < 1) return undefined;
  if (typeof h.createdAt !== 'string' || typeof h.ferryVersion !== 'string' || typeof h.commit !== 'string') return undefined;
  const head = h.auditHead;
  if (typeof head !== 'object' || head === null || !Number.isSafeInteger(head.seq) || head.seq < 0 || typeof head.hash !== 'string' || !HEX64.test(head.hash)) return undefined;
  return h as BackupHeader;
}

function trailerOf(text: string): BackupTrailer | undefined {
  const t = (parse(text) as { end?: Partial<BackupTrailer> } | undefined)?.end;
  if (typeof t !== 'object' || t === null || !Number.isSafeInteger(t.keys) || typeof t.sha256 !== 'string' || !HEX64.test(t.sha256)) return undefined;
  return t as BackupTrailer;
}

function rowOf(text: string): [string, string] | undefined {
  const row = parse(text);
  if (!Array.isArray(row) || row.length !== 2) return undefined;
  const [key, json] = row as unknown[];
  return typeof key === 'string' && key.length > 0 && typeof json === 'string' ? [key, json] : undefined;
}
