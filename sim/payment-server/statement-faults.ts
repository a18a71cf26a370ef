// Discrepancy knobs of the simulated statement, for reconciliation tests and demos:
// each produces one kind of finding of `ferry reconcile` (runtime/inner/reconcile/).
//   extraLines  payments the gateway never made       → long (at the server only)
//   dropLines   the day's first succeeded payments left out → short (here only)
//   alterLines  the next succeeded payments' amounts + 1 fen → amount mismatches
// The knobs stay set until changed, so that a statement fetched twice is the same.
export interface StatementFaults {
  extraLines: number;
  dropLines: number;
  alterLines: number;
}

export const NO_STATEMENT_FAULTS: Readonly<StatementFaults> = Object.freeze({ extraLines: 0, dropLines: 0, alterLines: 0 });

// Fabricated lines are capped: the knob is for tests, not for load.
export const STATEMENT_EXTRA_LINES_MAX = 1_000;

export const EXTRA_ORDER_PREFIX = 'SIMX';
const EXTRA_AMOUNT = 100;

interface StatementPayment { orderId: string; status: string; amount: number; [field: string]: unknown }
interface Statement { date: string; payments: object[]; refunds: object[] }

export function checkStatementFaults(value: unknown): Partial<StatementFaults> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Partial<StatementFaults> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(key in NO_STATEMENT_FAULTS)) return undefined;
    if (!Number.isSafeInteger(v) || (v as number) < 0) return undefined;
    out[key as keyof StatementFaults] = v as number;
  }
  if ((out.extraLines ?? 0) > STATEMENT_EXTRA_LINES_MAX) return undefined;
  return out;
}

export function applyStatementFaults(statement: Statement, faults: StatementFaults): Statement {
  const payments = (statement.payments as StatementPayment[]).map((p) => ({ ...p }));
  const succeeded = payments.filter((p) => p.status === 'succeeded');
  const dropped = new Set(succeeded.slice(0, faults.dropLines));
  for (const p of succeeded.slice(faults.dropLines, faults.dropLines + faults.alterLines)) p.amount += 1;
  const kept: object[] = payments.filter((p) => !dropped.has(p));
  for (let i = 1; i <= faults.extraLines; i++) {
    kept.push({
      orderId: `${EXTRA_ORDER_PREFIX}-${statement.date}-${String(i).padStart(4, '0')}`,
      status: 'succeeded', amount: EXTRA_AMOUNT, currency: 'CNY', method: 'code', refunded: 0,
      createdAt: `${statement.date}T12:00:00.000Z`,
    });
  }
  return { ...statement, payments: kept };
}
