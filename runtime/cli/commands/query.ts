// ferry query: reads the store through the running gateway's management API (the store
// itself is locked by the inner process). Patient ids, phone and ID-card numbers come
// masked unless --unmask is given with the admin token.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { COLUMNS, QUERY_KINDS, type QueryKindName } from '../../inner/management/columns.js';
import { callApi, connection, CONNECTION_HELP, CONNECTION_OPTIONS, UsageError } from '../management-client.js';
import { formatCsv, formatJsonl, formatTable, QUERY_FORMATS, type QueryFormat } from '../query-format.js';

// Rows one command prints at most; the API pages through them 500 at a time.
export const QUERY_ROWS_DEFAULT = 1_000;
export const QUERY_ROWS_MAX = 1_000_000;
const PAGE_ITEMS_MAX = 500;

const HELP = `Usage: ferry query <${QUERY_KINDS.join('|')}> [options]

Lists records of the information store through the running gateway's management API.
Patient ids, phone and ID-card numbers are masked (P-1***, 138****5678,
110105********1234) unless --unmask is given with the admin token.

Options:
  --date YYYY-MM-DD  records of that day in the hospital (gateway.yaml timeZone);
                     for registrations, the visit day
  --patient ID       records of one patient (payments: through their bill or registration)
  --order ID         records of one order
  --format F         table (default), jsonl or csv
  --limit N          print at most N rows (default ${QUERY_ROWS_DEFAULT})
  --unmask           show patient identifiers in full (admin token only; audited)
${CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 done, 1 the API refused or is unreachable, 2 the command line is wrong.

Examples:
  ferry query payments --date 2026-11-26
  ferry query bills --patient P-42 --format csv > bills.csv
  ferry query audit --order P20261126-kqzd-000001 --format jsonl
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
  return { kind: kind as QueryKindName, format: values.format as QueryFormat, limit, params, unmask: values.unmask!, values };
}

async function run(args: string[]): Promise<number> {
  let parsed: Parsed;
  let conn;
  try {
    parsed = parse(args);
    conn = connection(parsed.values as Record<string, string | undefined>, parsed.unmask);
  } catch (err) {
    process.stderr.write(`ferry query: ${(err as Error).message}\n`);
    return err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? EXIT_USAGE : EXIT_FAILURE;
  }
  const rows: Record<string, unknown>[] = [];
  try {
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams(parsed.params);
      params.set('limit', String(Math.min(PAGE_ITEMS_MAX, parsed.limit - rows.length)));
      if (cursor !== null) params.set('cursor', cursor);
      const page = await callApi(conn, 'GET', `/v1/query/${parsed.kind}?${params}`) as { items: Record<string, unknown>[]; nextCursor: string | null };
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null && rows.length < parsed.limit);
  } catch (err) {
    process.stderr.write(`ferry query: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const columns = COLUMNS[parsed.kind];
  const out = parsed.format === 'jsonl' ? formatJsonl(rows) : parsed.format === 'csv' ? formatCsv(rows, columns) : formatTable(rows, columns);
  process.stdout.write(out);
  return EXIT_OK;
}
