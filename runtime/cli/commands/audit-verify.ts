import { verifyAudit, type AuditVerdict } from '../../inner/store/index.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { CONNECTION_HELP, CONNECTION_OPTIONS, callApi, connection } from '../management-client.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';
import { offlineBackend } from '../offline-query.js';

const HELP = `Usage: ferry audit verify [--data DIR] [--rules DIR]

Walks the audit log in the store under DIR (default ${DEFAULT_PATHS.data}) from its first entry to its
last, recomputing each entry's hash and its link to the entry before, and names the
first entry that was edited, deleted or moved.

LevelDB lets one process open the store at a time. While the gateway runs, it holds the
store, so the check is asked of the gateway instead, through its management API (the
address and token from gateway.yaml under --rules). When gateway.yaml under --rules puts
the store on PostgreSQL (store.backend), the configured database is read directly.

Options:
  --data DIR         the gateway's data directory (default ${DEFAULT_PATHS.data})
  -h, --help         show this text
For a running gateway:
${CONNECTION_HELP}

Exit status: 0 the chain is intact, 1 it is broken or the store cannot be read,
2 the command line is wrong.
`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  data: { type: 'string', default: DEFAULT_PATHS.data },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const command: Command = {
  name: 'audit verify',
  summary: 'check that the hash-chained audit log has not been tampered with',
  help: HELP,
  run,
};

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length > 0) {
    process.stderr.write(`audit verify: unexpected argument ${parsed.positionals[0]}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  return report(parsed.values.data!, parsed.values);
}

async function report(dataDir: string, api: { url?: string; token?: string; 'token-file'?: string; rules?: string }): Promise<number> {
  let verdict: AuditVerdict;
  try {
    verdict = await verifyAudit(dataDir, await offlineBackend(api.rules ?? DEFAULT_PATHS.rules));
  } catch (err) {
    if ((err as { code?: string }).code !== 'STORE_LOCKED') {
      process.stderr.write(`audit verify: ${(err as Error).message}\n`);
      return EXIT_FAILURE;
    }
    // The gateway is running and holds the store: ask it, through its management API.
    try {
      verdict = await callApi(connection(api, false), 'GET', '/v1/audit/verify') as AuditVerdict;
      process.stderr.write('audit verify: the gateway is running; verified by it through its management API\n');
    } catch (apiErr) {
      process.stderr.write(`audit verify: ${(err as Error).message}; and through the management API: ${(apiErr as Error).message}\n`);
      return EXIT_FAILURE;
    }
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
