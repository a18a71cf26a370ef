// ferry query: reads the store through the running gateway's management API (the store
// itself is locked by the inner process), or, with --data, a stopped gateway's store
// directly through the same query side. Patient ids, phone and ID-card numbers come
// masked unless --unmask is given (online: with the admin token).
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { COLUMNS, QUERY_KINDS, type QueryKindName } from '../../inner/management/columns.js';
import { callApi, connection, CONNECTION_HELP, CONNECTION_OPTIONS, UsageError } from '../management-client.js';
import { formatCsv, formatJsonl, formatTable, QUERY_FORMATS, type QueryFormat } from '../query-format.js';
import { offlineBackend, offlineTimeZone, openOfflineQuery, type OfflineQuery } from '../offline-query.js';
import { QueryInputError } from '../../inner/management/query.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';

// Rows one command prints at most; the API pages through them 500 at a time.
export const QUERY_ROWS_DEFAULT = 1_000;
export const QUERY_ROWS_MAX = 1_000_000;
const PAGE_ITEMS_MAX = 500;

const HELP = `Usage: ferry query <${QUERY_KINDS.join('|')}> [options]

Lists records of the information store through the running gateway's management API,
or, with --data, straight from a stopped gateway's data directory (a copy, a backup,
a failed box), read-only. Patient ids, phone and ID-card numbers are masked (P-1***,
138****5678, 110105********1234) unless --unmask is given (online: with the admin
token, and audited).

Options:
  --date YYYY-MM-DD  records of that day in the hospital (gateway.yaml timeZone);
                     for registrations, the visit day
  --patient ID       records of one patient (payments: through their bill or registration)
  --order ID         records of one order
  --format F         table (default), jsonl or csv
  --limit N          print at most N rows (default ${QUERY_ROWS_DEFAULT})
  --unmask           show patient identifiers in full (admin token only; audited)
  --data DIR         read the store in DIR instead (the gateway must be stopped);
                     refused while a running gateway holds it
  --time-zone Z      with --data: the hospital's zone for --date (default: timeZone
                     of gateway.yaml under --rules)
${CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 done, 1 the API refused or is unreachable, 2 the command line is wrong.

Examples:
  ferry query payments --date 2026-11-26
  ferry query bills --patient P-42 --format csv > bills.csv
  ferry query audit --order P20261126-kqzd-000001 --format jsonl
  ferry query payments --date 2026-11-26 --data /srv/copy-of-data
`;

export const command: Command = { name: 'query', summary: 'list payments, bills, registrations, dispatches or audit entries', help: HELP, run };

interface Parsed {
  kind: QueryKindName;
  format: QueryFormat;
  limit: number;
  params: URLSearchParams;
  unmask: boolean;
  values: Record<string, string | boolean | undefined>;
}

function parse(args: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      ...CONNECTION_OPTIONS,
      date: { type: 'string' }, patient: { type: 'string' }, order: { type: 'string' },
      format: { type: 'string', default: 'table' }, limit: { type: 'string' }, unmask: { type: 'boolean', default: false },
      data: { type: 'string' }, 'time-zone': { type: 'string' },
    },
  });
  const kind = positionals[0];
  if (positionals.length !== 1 || !(QUERY_KINDS as readonly string[]).includes(kind!)) throw new UsageError(`name one kind: ${QUERY_KINDS.join(', ')}`);
  if (!(QUERY_FORMATS as readonly string[]).includes(values.format!)) throw new UsageError(`--format is one of ${QUERY_FORMATS.join(', ')}`);
  const limit = values.limit === undefined ? QUERY_ROWS_DEFAULT : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > QUERY_ROWS_MAX) throw new UsageError(`--limit is 1..${QUERY_ROWS_MAX}`);
  const params = new URLSearchParams();
  for (const name of ['date', 'patient', 'order'] as const) if (values[name] !== undefined) params.set(name, values[name]!);
  if (values.unmask) params.set('unmask', '1');
  if (values.data !== undefined) {
    for (const name of ['url', 'token', 'token-file'] as const) if (values[name] !== undefined) throw new UsageError(`--data reads the store itself: --${name} does not go with it`);
  } else if (values['time-zone'] !== undefined) {
    throw new UsageError('--time-zone goes with --data; a running gateway uses its own');
  }
  return { kind: kind as QueryKindName, format: values.format as QueryFormat, limit, params, unmask: values.unmask!, values };
}

type Page = { items: Record<string, unknown>[]; nextCursor: string | null };

async function run(args: string[]): Promise<number> {
  let parsed: Parsed;
  let fetchPage: (params: URLSearchParams) => Promise<Page>;
  let offline: OfflineQuery | undefined;
  const note = (text: string) => process.stderr.write(`ferry query: ${text}\n`);
  try {
    parsed = parse(args);
    const values = parsed.values as Record<string, string | undefined>;
    if (values.data !== undefined) {
      const timeZone = offlineTimeZone(values['time-zone'], values.rules ?? DEFAULT_PATHS.rules, note);
      const store = await openOfflineQuery(values.data, timeZone, await offlineBackend(values.rules ?? DEFAULT_PATHS.rules));
      offline = store;
      fetchPage = (params) => store.page(parsed.kind, params);
    } else {
      const conn = connection(values, parsed.unmask);
      fetchPage = async (params) => await callApi(conn, 'GET', `/v1/query/${parsed.kind}?${params}`) as Page;
    }
  } catch (err) {
    note((err as Error).message);
    return err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? EXIT_USAGE : EXIT_FAILURE;
  }
  const rows: Record<string, unknown>[] = [];
  try {
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams(parsed.params);
      params.set('limit', String(Math.min(PAGE_ITEMS_MAX, parsed.limit - rows.length)));
      if (cursor !== null) params.set('cursor', cursor);
      const page = await fetchPage(params);
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null && rows.length < parsed.limit);
  } catch (err) {
    note((err as Error).message);
    return err instanceof QueryInputError ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    await offline?.close();
  }
  if (offline && parsed.unmask) note('unmasked offline query: not audited, the store is opened read-only');
  const columns = COLUMNS[parsed.kind];
  const out = parsed.format === 'jsonl' ? formatJsonl(rows) : parsed.format === 'csv' ? formatCsv(rows, columns) : formatTable(rows, columns);
  process.stdout.write(out);
  return EXIT_OK;
}
