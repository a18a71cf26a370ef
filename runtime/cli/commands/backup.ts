// ferry backup --out FILE: a consistent snapshot of a running gateway's store, streamed
// from its management API (GET /v1/backup, admin token) into FILE. The file appears only
// once it is whole and checked: written to a temporary file next to it, synced, read
// back through the same checks as `ferry restore` (header, every line, key order,
// count, SHA-256), and only then renamed into place.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, connection, UsageError } from '../management-client.js';
import { writeFileAtomically } from '../../common/replace-file.js';
import { readBackup, type BackupHeader, type BackupTrailer } from '../../inner/store/backup-file.js';
import { RulesError } from '../../rules/types.js';

// No byte from the gateway for this long: it is gone (the whole backup may take minutes).
export const BACKUP_IDLE_TIMEOUT_MS = 60_000;

const HELP = `Usage: ferry backup --out FILE [options]

Takes a backup of the running gateway's store (the embedded LevelDB store): one
consistent snapshot of every key, streamed by the gateway while it goes on serving
payments, into FILE (gzip'd NDJSON with a header and a SHA-256 checksum; see README,
"Backup and restore"). FILE is written atomically and checked before it appears; it
holds patient data and is created readable by its owner only (0600).
Restore it with \`ferry restore FILE --data DIR\` on a stopped gateway.

For the PostgreSQL backend use pg_dump or pg_basebackup instead.

Options:
  --out FILE         the backup file to write (refused if it exists)
${CONNECTION_HELP}
                     (the admin token: management.adminToken)
  -h, --help         this text

Exit status: 0 written, 1 the gateway refused, is unreachable or sent a damaged
stream (FILE is then not written), 2 the command line is wrong.
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const command: Command = { name: 'backup', summary: 'back up a running gateway\'s store into one checked file', help: HELP, run };

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const out = parsed.values.out;
  if (out === undefined || parsed.positionals.length > 0) {
    process.stderr.write(`backup: ${out === undefined ? '--out FILE is required' : `unexpected argument ${parsed.positionals[0]}`}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const file = path.resolve(out);
  if (fs.existsSync(file)) {
    process.stderr.write(`backup: ${file} exists; choose another name (a backup never overwrites one)\n`);
    return EXIT_USAGE;
  }
  let conn;
  try {
    conn = connection(parsed.values, true);
  } catch (err) {
    if (err instanceof UsageError || err instanceof RulesError) {
      process.stderr.write(`backup: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const started = performance.now();
  try {
    const { header, trailer, bytes } = await takeBackup(conn, file);
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`backup written: ${file}\n  ${trailer.keys} keys, ${(bytes / 1e6).toFixed(1)} MB, store format ${header.storeFormat}, `
      + `audit head seq ${header.auditHead.seq} (${header.auditHead.hash.slice(0, 16)}…), taken ${header.createdAt} by Ferry ${header.ferryVersion}, in ${seconds.toFixed(1)} s\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`backup: ${(err as Error).message}; ${file} was not written\n`);
    return EXIT_FAILURE;
  }
}

export async function takeBackup(conn: { url: string; token: string }, file: string): Promise<{ header: BackupHeader; trailer: BackupTrailer; bytes: number }> {
  const abort = new AbortController();
  let idle = setTimeout(() => abort.abort(), BACKUP_IDLE_TIMEOUT_MS);
  const alive = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`no data from the gateway for ${BACKUP_IDLE_TIMEOUT_MS / 1000} s`)), BACKUP_IDLE_TIMEOUT_MS);
  };
  try {
    let res: Response;
    try {
      res = await fetch(`${conn.url}/v1/backup`, { headers: { authorization: `Bearer ${conn.token}` }, signal: abort.signal });
    } catch (err) {
      const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      throw new Error(`cannot reach the management API at ${conn.url}: ${cause} (is the gateway running?)`);
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      let why = text.slice(0, 200);
      try {
        const json = JSON.parse(text) as { error?: string; message?: string };
        why = `${json.error}: ${json.message}${res.status === 403 ? ' (give the admin token: --token-file with management.adminToken)' : ''}`;
      } catch { /* not JSON: the text as it came */ }
      throw new Error(`the gateway answered ${res.status} ${why}`);
    }
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        alive();
        yield chunk as Uint8Array;
      }
    }
    let checked: { header: BackupHeader; trailer: BackupTrailer } | undefined;
    const bytes = await writeFileAtomically(file, chunks(), {
      check: async (tmp) => {
        checked = await readBackup(tmp);
      },
    });
    return { ...checked!, bytes };
  } finally {
    clearTimeout(idle);
  }
}
