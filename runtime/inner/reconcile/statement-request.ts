// The inner side's half of fetching a statement: asks the outer side over the channel
// (statement.request) and gathers the statement.part records that answer, in order,
// until the last one. One request at a time; each waits at most STATEMENT_WAIT_MS.
import { randomBytes } from 'node:crypto';
import type { ChannelConnection } from '../../channel/connection.js';
import { STATEMENT_LINES_MAX, type ChannelHandlers, type StatementFailedRecord, type StatementLine, type StatementPartRecord } from '../../channel/records.js';
import { ReconcileError } from './errors.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

// The payment server may take a while to build a day's statement; the parts follow
// each other at channel speed.
export const STATEMENT_WAIT_MS = 60_000;

export type StatementHandlers = Pick<ChannelHandlers<'inner'>, 'statement.part' | 'statement.failed'>;

interface Pending {
  requestId: string;
  date: string;
  lines: StatementLine[];
  nextPart: number;
  resolve(lines: StatementLine[]): void;
  reject(err: Error): void;
}

export class StatementRequester {
  private connection: ChannelConnection | null = null;
  private pending: Pending | undefined;

  constructor(private readonly waitMs = STATEMENT_WAIT_MS, private readonly clock: Clock = systemClock) {}

  // Returns the handlers of the kinds that answer a statement.request, for the inner
  // side's one map of channel handlers.
  attach(connection: ChannelConnection): StatementHandlers {
    this.connection = connection;
    connection.on('close', () => {
      if (this.connection !== connection) return;
      this.connection = null;
      this.settle(new ReconcileError('OUTER_DOWN', 'the outer side disconnected while the statement was on its way'));
    });
    return {
      'statement.part': (record) => this.onPart(record),
      'statement.failed': (record) => this.onFailed(record),
    };
  }

  async fetch(date: string): Promise<StatementLine[]> {
    if (this.pending) throw new ReconcileError('BUSY', 'a statement is already being fetched');
    if (!this.connection?.isReady) throw new ReconcileError('OUTER_DOWN', 'the outer (payment) side is not connected');
    const requestId = `st-${randomBytes(8).toString('hex')}`;
    const lines = new Promise<StatementLine[]>((resolve, reject) => {
      this.pending = { requestId, date, lines: [], nextPart: 0, resolve, reject };
    });
    const timer = this.clock.setTimeout(() => this.settle(new ReconcileError('TIMEOUT', `no complete statement within ${this.waitMs} ms`)), this.waitMs);
    this.connection.send({ k: 'statement.request', requestId, date });
    try {
      return await lines;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  close(): void {
    this.settle(new ReconcileError('OUTER_DOWN', 'the gateway is stopping'));
  }

  private onFailed(record: StatementFailedRecord): void {
    if (this.pending?.requestId !== record.requestId) return; // an answer to a request given up on
    this.settle(new ReconcileError('FETCH_FAILED', record.reason));
  }

  private onPart(record: StatementPartRecord): void {
    const p = this.pending;
    if (!p || record.requestId !== p.requestId) return; // an answer to a request given up on
    if (record.date !== p.date || record.part !== p.nextPart) return this.settle(new ReconcileError('FETCH_FAILED', 'statement parts out of order'));
    if (p.lines.length + record.lines.length > STATEMENT_LINES_MAX) return this.settle(new ReconcileError('FETCH_FAILED', `the statement has more than ${STATEMENT_LINES_MAX} lines`));
    p.lines.push(...record.lines);
    p.nextPart += 1;
    if (record.last) this.settle(undefined);
  }

  private settle(err: Error | undefined): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    if (err) p.reject(err);
    else p.resolve(p.lines);
  }
}
