// Daily reconciliation: the payment server's statement, fetched by the outer
// side over the channel, matched with the store; the simulator injects each kind of
// discrepancy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { api, ferry, managementUrl, payBill, tokens } from './helpers/management.js';
import { matchStatement } from '../runtime/inner/reconcile/match.js';
import { checkRecord, MAX_RECORD_BYTES, RecordError, STATEMENT_PART_LINES_MAX, type StatementLine } from '../runtime/channel/records.js';
import { encodeFrame } from '../runtime/channel/framing.js';
import { EXTRA_ORDER_PREFIX } from '../sim/payment-server/statement-faults.js';
import type { ReconcileReport } from '../runtime/inner/reconcile/match.js';
import { HospitalDay } from '../runtime/common/hospital-day.js';

let gw: TestGateway;
let orders: string[] = [];
let date = '';

test.before(async () => {
  gw = await startTestGateway();
  for (let i = 0; i < 5; i++) orders.push((await payBill(gw, `P-7${i}`)).orderId);
  const order = await gw.inner.payments.order(orders[0]!);
  date = new HospitalDay(gw.rules.gateway.timeZone).dayOf(order.createdAt); // the day the server bills by
});
test.after(async () => {
  await gw.close();
});

const reconcile = async (d = date) => api(gw, 'POST', `/v1/reconcile?date=${d}`, tokens(gw).read);

test('with a clean statement every payment of the day is matched and nothing else is reported', async () => {
  gw.sim.setStatementFaults({ extraLines: 0, dropLines: 0, alterLines: 0 });
  const { status, json } = await reconcile();
  assert.is(status, 200, JSON.stringify(json));
  const report = json as ReconcileReport;
  assert.equal(report.counts, { statementLines: 5, here: 5, matched: 5, long: 0, short: 0, mismatched: 0 });
  assert.equal([report.long, report.short, report.mismatched], [[], [], []]);
});

test('injected long, short and mismatched lines are reported exactly, and audited as counts only', async () => {
  gw.sim.setStatementFaults({ extraLines: 2, dropLines: 1, alterLines: 1 });
  const { status, json } = await reconcile();
  assert.is(status, 200, JSON.stringify(json));
  const report = json as ReconcileReport;
  assert.equal(report.counts, { statementLines: 6, here: 5, matched: 3, long: 2, short: 1, mismatched: 1 });
  assert.equal(report.long.map((f) => f.orderId), [`${EXTRA_ORDER_PREFIX}-${date}-0001`, `${EXTRA_ORDER_PREFIX}-${date}-0002`]);
  assert.equal(report.long.map((f) => f.here), ['absent', 'absent']);
  assert.equal(report.short, [{ kind: 'payment', orderId: orders[0]!, here: 'succeeded', there: 'absent', hereAmount: 7200 }]);
  assert.equal(report.mismatched, [{ kind: 'payment', orderId: orders[1]!, here: 'succeeded', there: 'succeeded', hereAmount: 7200, thereAmount: 7201 }]);

  const audit = await gw.inner.store.list<{ event: Record<string, unknown> }>('audit!', { reverse: true, limit: 5 });
  const entry = audit.map(([, e]) => e.event).find((e) => e.kind === 'reconcile.done');
  assert.equal(entry, { kind: 'reconcile.done', date, statementLines: 6, here: 5, matched: 3, long: 2, short: 1, mismatched: 1 });
});

test('ferry reconcile prints the findings as text and JSON and exits 1 when the books differ, 0 when they match', async () => {
  const conn = ['--url', managementUrl(gw), '--token', tokens(gw).read, '--date', date];
  gw.sim.setStatementFaults({ extraLines: 1, dropLines: 1, alterLines: 1 });
  const text = await ferry(['reconcile', ...conn]);
  assert.is(text.code, 1, text.stderr);
  assert.match(text.stdout, /long +1 /);
  assert.match(text.stdout, new RegExp(`Short \\(here only\\):\\n  payment ${orders[0]}`));
  assert.match(text.stdout, new RegExp(`Amount mismatches:\\n  payment ${orders[1]}  here 7200 fen, there 7201 fen`));
  const json = await ferry(['reconcile', ...conn, '--format', 'json']);
  assert.is((JSON.parse(json.stdout) as ReconcileReport).counts.long, 1);
  gw.sim.setStatementFaults({ extraLines: 0, dropLines: 0, alterLines: 0 });
  const clean = await ferry(['reconcile', ...conn]);
  assert.is(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /The books match\./);
});

test('a day with nothing on either side matches trivially; a date that is not a day is refused with 400', async () => {
  const { json } = await reconcile('2020-02-02');
  assert.equal((json as ReconcileReport).counts, { statementLines: 0, here: 0, matched: 0, long: 0, short: 0, mismatched: 0 });
  const bad = await reconcile('2026-02-30');
  assert.is(bad.status, 400);
  assert.is(bad.json.error, 'BAD_DATE');
});

test('reconciliation without the outer side answers 503 OUTER_DOWN and is audited as failed', async () => {
  await gw.stopOuter();
  try {
    const { status, json } = await reconcile();
    assert.is(status, 503);
    assert.is(json.error, 'OUTER_DOWN');
  } finally {
    await gw.startOuter();
  }
  const audit = await gw.inner.store.list<{ event: Record<string, unknown> }>('audit!', { reverse: true, limit: 10 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'reconcile.failed' && e.event.code === 'OUTER_DOWN'));
});

// ---- the matching and the records, alone

const isRecordError = (err: Error) => err instanceof RecordError;
const line = (o: Partial<StatementLine>): StatementLine => ({ kind: 'payment', orderId: 'P1', amount: 100, currency: 'CNY', status: 'succeeded', at: '2026-11-26T09:00:00.000Z', ...o });

test('a payment at 07:00 hospital time is reconciled on that hospital day, the day the payment server bills it by', async () => {
  // 2026-11-26 07:00 in Beijing is 2026-11-25 23:00 UTC; the simulator bills by the local day.
  const at = new Date('2026-11-26T07:00:00+08:00');
  const early = await startTestGateway({ now: () => at });
  try {
    const { orderId } = await payBill(early, 'P-0700');
    const run = async (d: string) => (await api(early, 'POST', `/v1/reconcile?date=${d}`, tokens(early).read)).json as ReconcileReport;
    const day = await run('2026-11-26');
    assert.equal(day.counts, { statementLines: 1, here: 1, matched: 1, long: 0, short: 0, mismatched: 0 }, JSON.stringify(day));
    const before = await run('2026-11-25');
    assert.equal(before.counts, { statementLines: 0, here: 0, matched: 0, long: 0, short: 0, mismatched: 0 }, JSON.stringify(before));
    const cli = await ferry(['reconcile', '--date', '2026-11-26', '--format', 'json', '--url', managementUrl(early), '--token', tokens(early).read]);
    assert.is(cli.code, 0, cli.stdout + cli.stderr);
    assert.is((JSON.parse(cli.stdout) as ReconcileReport).counts.matched, 1);
    assert.ok(orderId.startsWith('P20261125-'), 'ids keep the UTC day they were made');
  } finally {
    await early.close();
  }
});

test('refunds are matched by refund id; failed lines and failed orders are not money and are not findings', () => {
  const report = matchStatement('2026-11-26', [
    line({ orderId: 'P1' }),
    line({ kind: 'refund', orderId: 'P1', refundId: 'F1', amount: 50 }),
    line({ kind: 'refund', orderId: 'P1', refundId: 'F2', amount: 20 }),
    line({ orderId: 'P2', status: 'failed' }),
    line({ orderId: 'P3', status: 'succeeded' }),
  ], [
    { kind: 'payment', orderId: 'P1', amount: 100, status: 'succeeded' },
    { kind: 'refund', orderId: 'P1', refundId: 'F1', amount: 50, status: 'succeeded' },
    { kind: 'refund', orderId: 'P1', refundId: 'F3', amount: 10, status: 'succeeded' },
    { kind: 'payment', orderId: 'P2', amount: 100, status: 'failed' },
    { kind: 'payment', orderId: 'P3', amount: 100, status: 'pending' },
  ], new Date('2026-11-27T00:00:00Z'));
  assert.equal(report.counts, { statementLines: 5, here: 5, matched: 2, long: 2, short: 1, mismatched: 0 });
  assert.equal(report.long.map((f) => [f.refundId ?? f.orderId, f.here]), [['F2', 'absent'], ['P3', 'pending']]);
  assert.equal(report.short.map((f) => f.refundId), ['F3']);
});

test('a statement line repeated by the server is reported as long', () => {
  const report = matchStatement('2026-11-26', [line({}), line({})], [{ kind: 'payment', orderId: 'P1', amount: 100, status: 'succeeded' }], new Date());
  assert.is(report.counts.matched, 1);
  assert.is(report.counts.long, 1);
});

test('a statement part with the most and longest lines still fits one channel record', () => {
  const id = 'X'.repeat(64);
  const lines = Array.from({ length: STATEMENT_PART_LINES_MAX }, () => line({ kind: 'refund', orderId: id, refundId: id, amount: 100_000_000, at: '2026-11-26T09:00:00.000000000+08:00' }));
  const part = { k: 'statement.part' as const, requestId: id, date: '2026-11-26', part: 200_000, last: false, lines };
  checkRecord(part, 'inner');
  assert.ok(encodeFrame(part).length < MAX_RECORD_BYTES, `${encodeFrame(part).length} bytes`);
  assert.throws(() => checkRecord({ ...part, lines: [...lines, lines[0]] }, 'inner'), isRecordError);
});

test('a statement line carrying a patient field is refused by the channel', () => {
  const part = { k: 'statement.part', requestId: 'st-1', date: '2026-11-26', part: 0, last: true, lines: [{ ...line({}), patientId: 'P-42' }] };
  assert.throws(() => checkRecord(part, 'inner'), (err: Error) => err instanceof RecordError && /statement\.part record invalid/.test(err.message));
});

test('the inner side cannot be sent a statement request, nor the outer side a statement part', () => {
  assert.throws(() => checkRecord({ k: 'statement.request', requestId: 'st-1', date: '2026-11-26' }, 'inner'), isRecordError);
  assert.throws(() => checkRecord({ k: 'statement.part', requestId: 'st-1', date: '2026-11-26', part: 0, last: true, lines: [] }, 'outer'), isRecordError);
});

test.run();
