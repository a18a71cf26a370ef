// Daily reconciliation (`ferry reconcile --date D`, POST /v1/reconcile): the payment
// server's statement of a hospital day (gateway.yaml timeZone, the day a payment server
// such as WeChat Pay bills by), fetched by the outer side, matched with the orders
// and refunds the store created that day. The outcome is audited as counts only.
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import type { Order } from '../payments/order.js';
import type { Refund } from '../payments/refunds.js';
import { ReconcileError } from './errors.js';
import { matchStatement, type HereItem, type ReconcileReport } from './match.js';
import type { StatementRequester } from './statement-request.js';
import { isCalendarDate, type HospitalDay } from '../../common/hospital-day.js';
import { idKeyRange, type IdKeyRange } from '../ids.js';
import { KEYSPACE } from '../store/keyspace.js';

// Orders and refunds of one day held in memory to match: as many as a statement may have.
export const RECONCILE_STORE_ROWS_MAX = 200_000;
const READ_PAGE_ROWS = 1_000;

export interface ReconcilerOptions {
  store: Store;
  statements: Pick<StatementRequester, 'fetch'>;
  log: Logger;
  day: HospitalDay;
  now?: () => Date;
}

export class Reconciler {
  private running = false;
  private readonly now: () => Date;

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  async run(date: string): Promise<ReconcileReport> {
    if (!isCalendarDate(date)) throw new ReconcileError('BAD_DATE', `${JSON.stringify(date)} is not a calendar day (YYYY-MM-DD)`);
    if (this.running) throw new ReconcileError('BUSY');
    this.running = true;
    try {
      const report = await this.reconcile(date);
      const { counts } = report;
      await this.opts.store.audit({ kind: 'reconcile.done', date, ...counts });
      this.opts.log.info({ date, ...counts }, 'reconciliation done');
      return report;
    } catch (err) {
      const reason = (err as Error).message.slice(0, 256);
      await this.opts.store.audit({ kind: 'reconcile.failed', date, code: (err as ReconcileError).code ?? 'INTERNAL', reason });
      throw err;
    } finally {
      this.running = false;
    }
  }

  private async reconcile(date: string): Promise<ReconcileReport> {
    const lines = await this.opts.statements.fetch(date);
    const { startMs, endMs } = this.opts.day.rangeOf(date);
    const orders = await this.readDay<Order>(idKeyRange(KEYSPACE.order.prefix, 'P', startMs, endMs), date);
    const refunds = await this.readDay<Refund>(idKeyRange(KEYSPACE.refund.prefix, 'F', startMs, endMs), date);
    const here: HereItem[] = [
      ...orders.map((o) => ({ kind: 'payment' as const, orderId: o.orderId, amount: o.amount, status: o.status })),
      ...refunds.map((r) => ({ kind: 'refund' as const, orderId: r.orderId, refundId: r.refundId, amount: r.amount, status: r.status })),
    ];
    return matchStatement(date, lines, here, this.now());
  }

  private async readDay<T extends { createdAt: string }>(range: IdKeyRange, date: string): Promise<T[]> {
    const out: T[] = [];
    let after = range.after;
    for (;;) {
      const rows = await this.opts.store.list<T>(range.prefix, { limit: READ_PAGE_ROWS, after });
      for (const [key, value] of rows) {
        if (range.beyond(key)) return out;
        if (this.opts.day.dayOf(value.createdAt) === date) out.push(value);
      }
      if (out.length > RECONCILE_STORE_ROWS_MAX) throw new ReconcileError('TOO_LARGE', `more than ${RECONCILE_STORE_ROWS_MAX} records on ${date}`);
      if (rows.length < READ_PAGE_ROWS) return out;
      after = rows[rows.length - 1]![0];
    }
  }
}
