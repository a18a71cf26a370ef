import { parseArgs } from 'node:util';
import { verifyAudit } from '../../inner/store/index.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';

const HELP = `Usage: ferry audit verify [--data DIR]

Walks the audit log in the store under DIR (default ./data) from its first entry to its
last, recomputing each entry's hash and its link to the entry before, and names the
first entry that was edited, deleted or moved.

The gateway must be stopped: LevelDB lets one process open the store at a time.

Options:
  --data DIR   the gateway's data directory (default ./data)
  -h, --help   show this text

Exit status: 0 the chain is intact, 1 it is broken or the store cannot be read,
2 the command line is wrong.
`;

export const command: Command = {
  name: 'audit verify',
  summary: 'check that the hash-chained audit log has not been tampered with',
  help: HELP,
  run,
};

async function run(args: string[]): Promise<number> {
  let values: { data: string; help: boolean };
  try {
    values = parseArgs({
      args,
      options: { data: { type: 'string', default: './data' }, help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    }).values as { data: string; help: boolean };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  return report(values.data);
}

async function report(dataDir: string): Promise<number> {
  let verdict;
  try {
    verdict = await verifyAudit(dataDir);
  } catch (err) {
    process.stderr.write(`audit verify: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  if (verdict.ok) {
    const pruned = verdict.prunedThrough !== undefined ? ` (entries up to ${verdict.prunedThrough} pruned by retention, behind a checkpoint)` : '';
    process.stdout.write(`audit chain intact: ${verdict.entries} entries${pruned}\n`);
    return EXIT_OK;
  }
  const broken = verdict.firstBroken!;
  process.stdout.write(`audit chain broken at entry ${broken.seq} (${broken.key}): ${broken.reason}\n`);
  return EXIT_FAILURE;
}
