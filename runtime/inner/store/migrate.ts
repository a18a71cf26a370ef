// Store.open's format check (format.ts): a brand-new store is stamped with the current
// format; a newer format than this code knows is refused before anything is read or
// written; an older one is brought forward step by step, each step one atomic LevelDB
// batch with its new format number, after a backup of the whole store next to the data
// (`<dataDir>/backups/before-format-N-<time>.ferrybak`). Runs before the store serves
// anyone, so the steps read a store nobody else writes.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import { buildInfo } from '../../common/build-info.js';
import { writeFileAtomically } from '../../common/replace-file.js';
import { nextEntryText, type AuditHead } from './audit.js';
import { BACKUP_FILE_SUFFIX, encodeBackup } from './backup-file.js';
import type { BatchOp, StoreEngine } from './engine.js';
import { StoreError } from './errors.js';
import { CURRENT_FORMAT, FORMATS, FORMAT_KEY, newStoreKeys, type MigrationStep, type StoreFormat } from './format.js';
import { auditKey, prefixUpperBound } from './keys.js';
import { BACKUP_BATCH_KEYS, BACKUP_READ_BYTES, MIGRATION_ONE_WRITE_OPS } from './limits.js';
import { batchesOf } from './snapshot.js';

export const BACKUPS_DIR = 'backups';
export const MIGRATED_KIND = 'store.migrated';

export interface MigrationLimits {
  oneWriteOps: number; // MIGRATION_ONE_WRITE_OPS; tests make it small
}

export interface FormatContext {
  dataDir: string;
  log: Logger;
  readOnly: boolean;
  now: () => Date;
  head: AuditHead; // the audit chain's head as found
}

// The format a store is in: its recorded number, 1 for data without one, or 'new'.
export async function formatOf(engine: StoreEngine): Promise<number | 'new'> {
  const text = await engine.get(FORMAT_KEY);
  if (text === undefined) {
    for await (const _ of engine.keys({ limit: 1 })) return 1;
    return 'new';
  }
  const version = Number(text);
  if (!Number.isSafeInteger(version) || version < 1 || String(version) !== text) {
    throw new StoreError('FORMAT_UNREADABLE', `the store's ${FORMAT_KEY} holds ${JSON.stringify(text.slice(0, 40))}, not a format number: restore the data directory from a backup (ferry restore)`);
  }
  return version;
}

export function newerFormatError(where: string, found: number): StoreError {
  return new StoreError('FORMAT_NEWER', `${where} is in store format ${found}, and this Ferry (${buildInfo().version}) knows formats up to ${CURRENT_FORMAT}: `
    + `install a Ferry that knows format ${found}, or restore the backup taken before the upgrade `
    + `(${BACKUPS_DIR}/before-format-${found}-….ferrybak in the data directory, with ferry restore --force)`);
}

// Returns the audit head after any migration (a migration is audited).
export async function settleFormat(engine: StoreEngine, ctx: FormatContext, formats: readonly StoreFormat[] = FORMATS,
  limits: MigrationLimits = { oneWriteOps: MIGRATION_ONE_WRITE_OPS }): Promise<AuditHead> {
  const current = formats[formats.length - 1]!.version;
  const found = await formatOf(engine);
  if (found === 'new') {
    if (ctx.readOnly) return ctx.head;
    await engine.write(newStoreKeys().map(([k, v]) => ({ type: 'put', key: k, value: JSON.stringify(v) })));
    ctx.log.info({ format: current }, 'new store stamped with its format');
    return ctx.head;
  }
  if (found > current) throw newerFormatError(`the store in ${ctx.dataDir}`, found);
  if (found === current) return ctx.head;
  // Older: a read-only reader (ferry query --data) reads it as it is; the query side
  // copes with every format in the table (a missing index means reading the records).
  if (ctx.readOnly) {
    ctx.log.info({ format: found, current }, 'store of an older format read as it is');
    return ctx.head;
  }
  const backup = await backUpBeforeMigration(engine, ctx, found, current);
  let head = ctx.head;
  for (const format of formats.filter((f) => f.version > found)) {
    head = await runStep(engine, ctx, format, head, backup, limits);
  }
  return head;
}

async function backUpBeforeMigration(engine: StoreEngine, ctx: FormatContext, from: number, to: number): Promise<string> {
  const dir = join(ctx.dataDir, BACKUPS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // What an earlier attempt that was killed half way left (writeFileAtomically's hidden
  // temporary files): never a backup, and as large as one.
  for (const name of await readdir(dir)) {
    if (name.startsWith('.before-format-') && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
  }
  const at = ctx.now();
  const file = join(dir, `before-format-${to}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}${BACKUP_FILE_SUFFIX}`);
  const started = performance.now();
  const { version, commit } = buildInfo();
  const bytes = await writeFileAtomically(file, encodeBackup(
    { ferryBackup: 1, storeFormat: from, ferryVersion: version, commit, createdAt: at.toISOString(), auditHead: ctx.head, reason: 'before-migration' },
    batchesOf(await engine.snapshot()),
  ));
  ctx.log.info({ file, bytes, fromFormat: from, toFormat: to, ms: Math.round(performance.now() - started) }, 'store backed up before its format migration');
  return file;
}

// One step, all or nothing: its writes, the audit entry saying so and the new format
// number go in one write of the engine (one LevelDB batch), durable when it resolves;
// the writes are held in memory until then (about 160 bytes an index entry). An additive
// step's writes beyond limits.oneWriteOps go ahead in pages, between the pages it reads.
async function runStep(engine: StoreEngine, ctx: FormatContext, format: StoreFormat, head: AuditHead, backup: string, limits: MigrationLimits): Promise<AuditHead> {
  const from = format.version - 1;
  const step = format.from;
  if (!step) throw new StoreError('MIGRATION_FAILED', `no step from store format ${from} to ${format.version}`);
  const started = performance.now();
  let ops: BatchOp[] = [];
  let ahead = 0; // written in pages before the last write
  const io: MigrationStep = {
    async *pages(prefix) {
      const lt = prefixUpperBound(prefix);
      const iterator = engine.iterator({ gte: prefix, ...(lt === undefined ? {} : { lt }), readAheadBytes: BACKUP_READ_BYTES });
      try {
        for (;;) {
          if (step.additive !== undefined && ops.length >= limits.oneWriteOps) {
            const page = ops;
            ops = [];
            await engine.write(page);
            ahead += page.length;
          }
          const page = await iterator.nextv(BACKUP_BATCH_KEYS);
          if (page.length === 0) return;
          yield page;
        }
      } finally {
        await iterator.close();
      }
    },
    getMany: (keys) => (keys.length === 0 ? Promise.resolve([]) : engine.getMany(keys)),
    put(k, value) {
      ops.push({ type: 'put', key: k, value: JSON.stringify(value) });
    },
    get keysWritten() {
      return ahead + ops.length;
    },
  };
  try {
    await step.run(io);
    const written = ahead + ops.length;
    const { entry, text } = nextEntryText(head, { kind: MIGRATED_KIND, fromFormat: from, toFormat: format.version, backup, keysWritten: written }, ctx.now());
    ops.push({ type: 'put', key: auditKey(entry.seq), value: text }, { type: 'put', key: FORMAT_KEY, value: String(format.version) });
    await engine.write(ops);
    ctx.log.info({ fromFormat: from, toFormat: format.version, keysWritten: written, ms: Math.round(performance.now() - started), backup }, `store migrated to format ${format.version}: ${step.does}`);
    return { seq: entry.seq, hash: entry.hash };
  } catch (err) {
    const partly = ahead > 0 ? ` (with ${ahead} of the step's entries written ahead, which it allows: ${step.additive})` : ' as it was';
    throw new StoreError('MIGRATION_FAILED', `moving the store in ${ctx.dataDir} from format ${from} to ${format.version} failed, `
      + `and it is left in format ${from}${partly}: ${(err as Error).message} (backup taken first: ${backup})`, { cause: err });
  }
}
