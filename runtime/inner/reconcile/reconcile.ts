// Daily reconciliation (`ferry reconcile --date D`, POST /v1/reconcile): the payment
// server's statement of a UTC day, fetched by the outer side, matched with the orders
// and refunds the store created that day. The outcome is audited as counts only.
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import type { Order } from '../payments/order.js';
import type { Refund } from '../payments/refunds.js';
import { ReconcileError } from './errors.js';
import { matchStatement, type HereItem, type ReconcileReport } from './match.js';
import type { StatementRequester } from './statement-request.js';

// Orders and refunds of one day held in memory to match: as many as a statement may have.
export const RECONCILE_STORE_ROWS_MAX = 200_000;
const READ_PAGE_ROWS = 1_000;

export interface ReconcilerOptions {
  store: Store;
  statements: Pick<StatementRequester, 'fetch'>;
  log: Logger;
  now?: () => Date;
}

export function isCalendarDate(date: string): boolean {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date)) return false;
  const parsed = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
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
    const day = date.replaceAll('-', '');
    // Ids carry the UTC day they were made (runtime/inner/ids.ts), as createdAt does.
    const orders = await this.readDay<Order>(`order!P${day}`, date);
    const refunds = await this.readDay<Refund>(`refund!F${day}`, date);
    const here: HereItem[] = [
      ...orders.map((o) => ({ kind: 'payment' as const, orderId: o.orderId, amount: o.amount, status: o.status })),
      ...refunds.map((r) => ({ kind: 'refund' as const, orderId: r.orderId, refundId: r.refundId, amount: r.amount, status: r.status })),
    ];
    return matchStatement(date, lines, here, this.now());
  }

  private async readDay<T extends { createdAt: string }>(prefix: string, date: string): Promise<T[]> {
    const out: T[] = [];
    let after: string | undefined;
    for (;;) {
      const rows = await this.opts.store.list<T>(prefix, { limit: READ_PAGE_ROWS, ...(after !== undefined ? { after } : {}) });
      for (const [, value] of rows) if (value.createdAt.slice(0, 10) === date) out.push(value);
      if (out.length > RECONCILE_STORE_ROWS_MAX) throw new ReconcileError('TOO_LARGE', `more than ${RECONCILE_STORE_ROWS_MAX} records on ${date}`);
      if (rows.length < READ_PAGE_ROWS) return out;
      after = rows[rows.length - 1]![0];
    }
  }
}
