// ferry reconcile: asks the running gateway to match one day's payment-server
// statement with its store (POST /v1/reconcile) and prints the report.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import type { Finding, ReconcileReport } from '../../inner/reconcile/match.js';
import { callApi, connection, CONNECTION_HELP, CONNECTION_OPTIONS, UsageError } from '../management-client.js';

const HELP = `Usage: ferry reconcile --date YYYY-MM-DD [options]

Fetches the payment server's statement of a day in the hospital (gateway.yaml
timeZone, the day the payment server bills by) through the gateway's outer side
and matches it with the payments and refunds the store made that day. Reports:
  matched     succeeded on both sides with the same amount
  long        succeeded at the payment server only
  short       succeeded here only
  mismatched  succeeded on both sides with different amounts
The gateway audits each run (counts only).

Options:
  --date YYYY-MM-DD  the day to reconcile (required)
  --format F         text (default) or json
${CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 the books match, 1 they differ or the reconciliation failed, 2 the
command line is wrong.

Example:
  ferry reconcile --date 2026-11-26 --format json > recon-2026-11-26.json
`;

export const command: Command = { name: 'reconcile', summary: "match a day's payment-server statement with the store", help: HELP, run };

async function run(args: string[]): Promise<number> {
  let values;
  let conn;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: { ...CONNECTION_OPTIONS, date: { type: 'string' }, format: { type: 'string', default: 'text' } },
    }));
    if (values.date === undefined) throw new UsageError('--date YYYY-MM-DD is required');
    if (values.format !== 'text' && values.format !== 'json') throw new UsageError('--format is text or json');
    conn = connection(values, false);
  } catch (err) {
    process.stderr.write(`ferry reconcile: ${(err as Error).message}\n`);
    return err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? EXIT_USAGE : EXIT_FAILURE;
  }
  let report: ReconcileReport;
  try {
    report = await callApi(conn, 'POST', `/v1/reconcile?date=${encodeURIComponent(values.date)}`) as ReconcileReport;
  } catch (err) {
    process.stderr.write(`ferry reconcile: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(values.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : reportText(report));
  const { long, short, mismatched } = report.counts;
  return long + short + mismatched === 0 ? EXIT_OK : EXIT_FAILURE;
}

export function reportText(r: ReconcileReport): string {
  const c = r.counts;
  const out = [
    `Reconciliation of ${r.date} (made ${r.generatedAt})`,
    `  statement lines  ${c.statementLines}`,
    `  here             ${c.here} payments and refunds`,
    `  matched          ${c.matched}`,
    `  long             ${c.long}   succeeded at the payment server only`,
    `  short            ${c.short}   succeeded here only`,
    `  mismatched       ${c.mismatched}   amounts differ`,
  ];
  const section = (title: string, findings: Finding[]) => {
    if (findings.length === 0) return;
    out.push('', `${title}:`);
    for (const f of findings) {
      const id = f.kind === 'refund' ? `refund ${f.refundId} of ${f.orderId}` : `payment ${f.orderId}`;
      const amounts = [f.hereAmount !== undefined ? `here ${f.hereAmount} fen` : '', f.thereAmount !== undefined ? `there ${f.thereAmount} fen` : ''].filter(Boolean).join(', ');
      out.push(`  ${id}  ${amounts}  (here: ${f.here}; there: ${f.there})`);
    }
  };
  section('Long (at the payment server only)', r.long);
  section('Short (here only)', r.short);
  section('Amount mismatches', r.mismatched);
  out.push('', c.long + c.short + c.mismatched === 0 ? 'The books match.' : 'The books differ: investigate each line above.');
  return `${out.join('\n')}\n`;
}
