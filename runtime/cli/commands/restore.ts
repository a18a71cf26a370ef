// ferry restore FILE --data DIR: a backup from `ferry backup` (or the one the gateway
// takes before a format migration) restored into DIR/store on a stopped gateway, only
// once the whole file and its audit chain have been checked (store/restore.ts).
import path from 'node:path';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';
import { restoreBackup } from '../../inner/store/restore.js';
import { CURRENT_FORMAT } from '../../inner/store/format.js';

const HELP = `Usage: ferry restore FILE [--data DIR] [--force]

Restores a backup file (from \`ferry backup\`, or <data>/backups/before-format-N-….ferrybak
taken before a format migration) into DIR/store, for the embedded LevelDB store. The
gateway must be stopped: a store held by a running gateway is refused.

Nothing in DIR changes until the backup has been checked whole: the file is read into
a new store in a temporary directory inside DIR, its SHA-256 checksum, key count and
header are checked (a store format newer than this Ferry knows, ${CURRENT_FORMAT}, is refused),
the restored audit chain is verified and its head compared with the header's, and only
then is it moved into place. A damaged, truncated or altered file leaves DIR as it was.
The restored store gets a new instance tag, so that the order, bill and refund ids the
gateway handed out after the backup are never handed out again (the payment server has
seen them), and a store.restored audit entry naming the backup.
A backup of an older store format is migrated when the gateway next starts.

Options:
  --data DIR         the gateway's data directory (default ${DEFAULT_PATHS.data})
  --force            replace a store already in DIR; the old one is kept aside as
                     DIR/store.replaced-<time>, not deleted
  -h, --help         this text

Exit status: 0 restored, 1 refused (the message says why; DIR is untouched),
2 the command line is wrong.
`;

const OPTIONS = {
  data: { type: 'string', default: DEFAULT_PATHS.data },
  force: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const command: Command = { name: 'restore', summary: 'restore a backup into a stopped gateway\'s data directory, checked first', help: HELP, run };

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`restore: ${parsed.positionals.length === 0 ? 'give the backup FILE' : `unexpected argument ${parsed.positionals[1]}`}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const file = path.resolve(parsed.positionals[0]!);
  const dataDir = path.resolve(parsed.values.data!);
  try {
    const r = await restoreBackup(file, dataDir, { force: parsed.values.force === true, now: () => new Date() });
    const pruned = r.verdict.prunedThrough !== undefined ? `, entries up to ${r.verdict.prunedThrough} pruned behind a checkpoint` : '';
    process.stdout.write(`restored ${file} into ${path.join(dataDir, 'store')}\n`
      + `  ${r.trailer.keys} keys, store format ${r.header.storeFormat}, taken ${r.header.createdAt} by Ferry ${r.header.ferryVersion} (${r.header.commit}), in ${r.seconds.toFixed(1)} s\n`
      + `  audit chain intact: ${r.verdict.entries} entries${pruned}, head seq ${r.header.auditHead.seq} as the backup names\n`
      + `  new instance tag ${r.instanceTag} (ids handed out after the backup are not handed out again); audited as store.restored (seq ${r.auditHead.seq})\n`
      + (r.replaced ? `  the store that was there is kept in ${r.replaced}\n` : '')
      + (r.header.storeFormat < CURRENT_FORMAT ? `  store format ${r.header.storeFormat} is migrated to ${CURRENT_FORMAT} when the gateway starts (a backup is taken first)\n` : ''));
    return EXIT_OK;
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`restore: ${code === 'ENOENT' ? `no such file: ${file}` : (err as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
