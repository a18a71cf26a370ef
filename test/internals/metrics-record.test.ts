// The outer side's figures cross as one `metrics` record: numbers under fixed names, and
// label values only from the record's enums. Anything else is a protocol violation, which
// ends the connection like any other record that fails its row. No socket: the table's
// check, and the outer side's figures as it builds them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkRecord, NOTIFY_METRIC_REASONS, PAYMENT_CALL_OPERATIONS, PAYMENT_LATENCY_BUCKETS_SECONDS, parseRecord, RecordError, type MetricsRecord,
} from '../../runtime/channel/records.js';
import { ManualClock } from '../../runtime/common/clock.js';
import { ProcessFigures } from '../../runtime/common/process-figures.js';
import { OuterFigures } from '../../runtime/outer/figures.js';

function figures(): { outer: OuterFigures; close(): void } {
  const process = new ProcessFigures(new ManualClock(1_764_000_000_000));
  return { outer: new OuterFigures(process), close: () => process.close() };
}

function record(): MetricsRecord {
  const f = figures();
  try {
    f.outer.call('payment', 0.03);
    f.outer.call('status', 12, 'timeout');
    f.outer.notificationAccepted();
    f.outer.notificationRefused('BAD_SIGNATURE', 2);
    return f.outer.record({ breaker: 'closed', notifyListening: true });
  } finally {
    f.close();
  }
}

function refused(value: unknown, matches: RegExp, what: string): void {
  try {
    checkRecord(value, 'inner');
  } catch (err) {
    assert.instance(err, RecordError, what);
    assert.match((err as Error).message, matches, what);
    return;
  }
  assert.unreachable(`expected a RecordError: ${what}`);
}

test('the outer side\'s figures make a record the inner side admits, with cumulative buckets', () => {
  const r = record();
  assert.equal(checkRecord(JSON.parse(JSON.stringify(r)), 'inner'), r);
  assert.equal(Object.keys(r.paymentLatency), [...PAYMENT_CALL_OPERATIONS]);
  assert.equal(Object.keys(r.notifyRefused), [...NOTIFY_METRIC_REASONS]);
  // 30 ms is under every bound from 0.05 s; 12 s is under none (only the count has it).
  assert.equal(r.paymentLatency.payment.buckets, PAYMENT_LATENCY_BUCKETS_SECONDS.map((le) => (0.03 <= le ? 1 : 0)));
  assert.equal(r.paymentLatency.status.buckets, PAYMENT_LATENCY_BUCKETS_SECONDS.map(() => 0));
  assert.is(r.paymentLatency.status.count, 1);
  assert.is(r.paymentErrors.timeout, 1);
  assert.is(r.notifyRefused.BAD_SIGNATURE, 2);
  assert.is(r.notifyAccepted, 1);
});

test('a metrics record with a label value outside its enums, a field of its own or a non-number is refused', () => {
  const r = record();
  refused({ ...r, paymentErrors: { ...r.paymentErrors, dns: 1 } }, /metrics record invalid at \/paymentErrors/, 'an error kind that is not one');
  refused({ ...r, notifyRefused: { ...r.notifyRefused, 'P-42': 1 } }, /metrics record invalid at \/notifyRefused/, 'a reason that could carry a patient id');
  const { CONFLICT: _conflict, ...missingReason } = r.notifyRefused;
  refused({ ...r, notifyRefused: missingReason }, /metrics record invalid at \/notifyRefused/, 'a reason left out');
  refused({ ...r, paymentLatency: { ...r.paymentLatency, login: r.paymentLatency.payment } }, /invalid at \/paymentLatency/, 'an operation that is not one');
  refused({ ...r, breaker: 'broken' }, /invalid at \/breaker/, 'a breaker state that is not one');
  refused({ ...r, patientId: 'P-42' }, /metrics record invalid/, 'a field the row does not have');
  refused({ ...r, notifyAccepted: '3' }, /invalid at \/notifyAccepted/, 'a count as text');
  refused({ ...r, notifyAccepted: -1 }, /invalid at \/notifyAccepted/, 'a negative count');
  refused({ ...r, notifyAccepted: 1.5 }, /invalid at \/notifyAccepted/, 'a count that is not whole');
  refused({ ...r, paymentErrors: { ...r.paymentErrors, timeout: 'P-42' } }, /invalid at \/paymentErrors\/timeout/, 'text where a count goes');
  refused({ ...r, paymentLatency: { ...r.paymentLatency, payment: { ...r.paymentLatency.payment, buckets: [1, 2] } } }, /invalid at \/paymentLatency\/payment\/buckets/, 'too few buckets');
  refused({ ...r, paymentLatency: { ...r.paymentLatency, payment: { ...r.paymentLatency.payment, label: 'x' } } }, /invalid at \/paymentLatency\/payment/, 'a field inside a histogram');
  refused({ ...r, eventLoopLagSeconds: 'slow' }, /invalid at \/eventLoopLagSeconds/, 'a duration as text');
  const { rssBytes: _rss, ...withoutRss } = r;
  refused(withoutRss, /must have required property 'rssBytes'/, 'a figure left out');
  // JSON has no NaN or Infinity: they arrive as null and are refused.
  assert.throws(() => parseRecord(Buffer.from(JSON.stringify({ ...r, uptimeSeconds: Infinity })), 'inner'), /invalid at \/uptimeSeconds/);
});

test('only the outer side sends metrics', () => {
  assert.throws(() => checkRecord(record(), 'outer'), /the outer side does not receive metrics records/);
});

test.run();
