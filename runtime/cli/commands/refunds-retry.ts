// ferry refunds retry ID: asks the running gateway to retry a refund the payment server
// declined (POST /v1/refunds/{id}/retry, admin token). The registration goes back to
// refunding and the same refund, under the same refund id, is sent again.
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { ApiError, callApi, connection, CONNECTION_HELP, CONNECTION_OPTIONS, UsageError } from '../management-client.js';

const HELP = `Usage: ferry refunds retry ID [options]

Retries the declined refund of a registration whose status is refund_failed. ID is the
registration id (R…) or its refund id (F…). The refund keeps its id, which is the
payment server's idempotency key, so a refund is never made twice. The registration
goes back to refunding; its device gets registration.refunded when the payment server
answers. The retry is written to the audit log. It needs the admin token
(gateway.yaml management.adminToken by default).

Options:
${CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 the refund was sent again, 1 the gateway refused (not refund_failed,
unknown id, not the admin token) or cannot be reached, 2 the command line is wrong.

Example:
  ferry refunds retry R20261126-kqzd-000042 --token-file /etc/ferry/admin.token
`;

const OPTIONS = { ...CONNECTION_OPTIONS, help: { type: 'boolean', short: 'h', default: false } } as const;

export const command: Command = { name: 'refunds retry', summary: 'retry a refund the payment server declined (admin)', help: HELP, run };

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const [id, extra] = parsed.positionals;
  if (id === undefined || extra !== undefined) {
    process.stderr.write(`ferry refunds retry: give exactly one registration or refund id\n\n${HELP}`);
    return EXIT_USAGE;
  }
  let conn;
  try {
    conn = connection(parsed.values, true);
  } catch (err) {
    process.stderr.write(`ferry refunds retry: ${(err as Error).message}\n`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
  try {
    const answer = await callApi(conn, 'POST', `/v1/refunds/${encodeURIComponent(id)}/retry`) as { registrationId: string; refundId: string; status: string };
    process.stdout.write(`refund ${answer.refundId} of ${answer.registrationId} sent again; the registration is ${answer.status}\n`);
    return EXIT_OK;
  } catch (err) {
    const hint = err instanceof ApiError && err.status === 403 ? ' (use the admin token: --token-file with management.adminToken)' : '';
    process.stderr.write(`ferry refunds retry: ${(err as Error).message}${hint}\n`);
    return EXIT_FAILURE;
  }
}
