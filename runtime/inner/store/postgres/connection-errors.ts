// Which failures of a query mean "the connection or the server went away" (the outcome
// of a COMMIT in flight is unknown, and trying again on a new connection may succeed),
// as opposed to a query the server refused, which trying again would refuse again.
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT']);
// SQLSTATEs: the server is shutting down, crashed or starting, has no room for the
// connection, or cancelled us in a conflict a retry resolves.
const SQL_STATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '25006']);
const MESSAGES = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable|Client was closed/i;

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NODE_CODES.has(code) || SQL_STATES.has(code) || code.startsWith('08')) return true;
  return typeof e?.message === 'string' && MESSAGES.test(e.message);
}
