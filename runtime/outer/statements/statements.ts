// The outer side's half of daily reconciliation: on a statement.request from the inner
// side, fetch the payment server's statement of that day (signed, through the payment
// client), reduce every line to ids, amounts and statuses, and send it back in parts
// small enough for one channel record each. Nothing is kept afterwards.
import type { Logger } from '../../common/logger.js';
import {
  checkRecord, RecordError, STATEMENT_LINES_MAX, STATEMENT_PART_LINES_MAX,
  type ChannelRecord, type StatementLine, type StatementPartRecord, type StatementRequestRecord,
} from '../../channel/records.js';
import type { RawResult } from '../relay/payment-client.js';

// Statement fetches running at once: the inner side asks for one at a time; a second
// one covers a retry while the first is still on its way.
export const STATEMENT_FETCHES_MAX = 2;

export interface StatementSource {
  statement(date: string): Promise<RawResult>;
}

export interface StatementFetcherOptions {
  client: StatementSource;
  send(record: ChannelRecord): boolean;
  log: Logger;
}

export class StatementFetcher {
  private running = 0;

  constructor(private readonly opts: StatementFetcherOptions) {}

  onRequest(request: StatementRequestRecord): void {
    if (this.running >= STATEMENT_FETCHES_MAX) return this.fail(request, 'busy: another statement is being fetched');
    this.running += 1;
    void this.fetch(request).finally(() => {
      this.running -= 1;
    });
  }

  private async fetch(request: StatementRequestRecord): Promise<void> {
    const result = await this.opts.client.statement(request.date);
    const checked = checkStatement(result, request.date);
    if (!checked.ok) {
      this.opts.log.warn({ date: request.date, reason: checked.reason }, 'statement not fetched');
      return this.fail(request, checked.reason);
    }
    let parts: StatementPartRecord[];
    try {
      parts = toParts(request, checked.lines);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      return this.fail(request, `the statement has a malformed line (${err.message.slice(0, 160)})`);
    }
    for (const part of parts) if (!this.opts.send(part)) return; // the inner side times out and may ask again
    this.opts.log.info({ date: request.date, lines: checked.lines.length, parts: parts.length }, 'statement sent to the inner side');
  }

  private fail(request: StatementRequestRecord, reason: string): void {
    this.opts.send({ k: 'statement.failed', requestId: request.requestId, date: request.date, reason: reason.slice(0, 256) });
  }
}

type Checked = { ok: true; lines: StatementLine[] } | { ok: false; reason: string };

// The server's statement (sim/payment-server/ledger.ts `statement`) reduced to lines.
// Only the fields a line declares are copied: whatever else the server sends stays here.
export function checkStatement(result: RawResult, date: string): Checked {
  if (result.kind !== 'http') return { ok: false, reason: `payment server unreachable (${result.reason})` };
  if (result.status !== 200) return { ok: false, reason: `payment server answered HTTP ${result.status}` };
  const json = result.json as { date?: unknown; payments?: unknown; refunds?: unknown } | undefined;
  if (json === null || typeof json !== 'object') return { ok: false, reason: 'the statement is not a JSON object' };
  if (json.date !== date) return { ok: false, reason: 'the statement is for another day' };
  if (!Array.isArray(json.payments) || !Array.isArray(json.refunds)) return { ok: false, reason: 'the statement lacks payments or refunds' };
  if (json.payments.length + json.refunds.length > STATEMENT_LINES_MAX) return { ok: false, reason: `the statement has more than ${STATEMENT_LINES_MAX} lines` };
  const lines: StatementLine[] = [
    ...json.payments.map((p: Record<string, unknown>) => line('payment', p)),
    ...json.refunds.map((r: Record<string, unknown>) => line('refund', r)),
  ];
  return { ok: true, lines };
}

function line(kind: 'payment' | 'refund', raw: Record<string, unknown>): StatementLine {
  const r = raw ?? {};
  return {
    kind, orderId: r.orderId as string,
    ...(kind === 'refund' ? { refundId: r.refundId as string } : {}),
    amount: r.amount as number, currency: r.currency as 'CNY', status: r.status as StatementLine['status'],
    at: r.createdAt as string,
  };
}

// Throws RecordError on the first part that is not a valid record (bad line inside).
export function toParts(request: StatementRequestRecord, lines: StatementLine[]): StatementPartRecord[] {
  const parts: StatementPartRecord[] = [];
  for (let start = 0; start === 0 || start < lines.length; start += STATEMENT_PART_LINES_MAX) {
    const chunk = lines.slice(start, start + STATEMENT_PART_LINES_MAX);
    const part: StatementPartRecord = {
      k: 'statement.part', requestId: request.requestId, date: request.date,
      part: parts.length, last: start + STATEMENT_PART_LINES_MAX >= lines.length, lines: chunk,
    };
    checkRecord(JSON.parse(JSON.stringify(part)), 'inner');
    parts.push(part);
  }
  return parts;
}
