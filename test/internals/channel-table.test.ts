// The channel as one table (runtime/channel/records.ts): every row is checked on
// arrival, every kind has a handler on the side that receives it, and README.md's list
// of kinds says what the rows say. No socket: the table and its checks alone.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CHANNEL, checkRecord, RecordError, type ChannelHandlers, type ChannelRecordOf, type RecordKind,
} from '../../runtime/channel/records.js';
import { integer, string } from '../../runtime/channel/schema.js';
import { defineChannel, joinHandlers, type Side } from '../../runtime/channel/table.js';
import { SAMPLE_METRICS } from '../helpers/channel-samples.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');

// One valid record of every kind, each with all its optional fields: the compiler
// refuses this map when a row is added without a sample.
const SAMPLES: { [K in RecordKind]: ChannelRecordOf<K> } = {
  hello: { k: 'hello', side: 'outer', version: 1 },
  heartbeat: { k: 'heartbeat', ts: 1_764_000_000_000 },
  order: { k: 'order', orderId: 'P20261126-abcd-000001', amount: 4000, currency: 'CNY', method: 'code', description: 'Bill B20261126-abcd-000001', authCode: '134567890123' },
  'order.ack': { k: 'order.ack', orderId: 'P20261126-abcd-000001' },
  outcome: { k: 'outcome', orderId: 'P20261126-abcd-000001', status: 'pending', amount: 4000, qrCode: 'ferrysim://pay/xyz', reason: 'waiting for the wallet' },
  notification: { k: 'notification', notifyId: 'N-1', orderId: 'P20261126-abcd-000001', status: 'succeeded', amount: 4000, currency: 'CNY' },
  'notification.ack': { k: 'notification.ack', notifyId: 'N-1', accepted: false, reason: 'another amount', seen: 'different' },
  'notify.refused': { k: 'notify.refused', reason: 'BAD_SIGNATURE', remote: '198.51.100.7', at: 1_764_000_000_000, count: 3, orderId: 'P20261126-abcd-000001' },
  refund: { k: 'refund', refundId: 'F20261126-abcd-000001', orderId: 'P20261126-abcd-000001', amount: 4000, currency: 'CNY', reason: 'registration cancelled' },
  'refund.outcome': { k: 'refund.outcome', refundId: 'F20261126-abcd-000001', orderId: 'P20261126-abcd-000001', status: 'failed', amount: 4000, reason: 'declined' },
  'statement.request': { k: 'statement.request', requestId: 'st-0123456789abcdef', date: '2026-11-26' },
  'statement.part': {
    k: 'statement.part', requestId: 'st-0123456789abcdef', date: '2026-11-26', part: 0, last: true,
    lines: [{ kind: 'refund', orderId: 'P20261126-abcd-000001', refundId: 'F20261126-abcd-000001', amount: 4000, currency: 'CNY', status: 'succeeded', at: '2026-11-26T09:30:00.000Z' }],
  },
  'statement.failed': { k: 'statement.failed', requestId: 'st-0123456789abcdef', date: '2026-11-26', reason: 'payment server unreachable (network)' },
  metrics: SAMPLE_METRICS,
};

const other = (side: Side): Side => (side === 'inner' ? 'outer' : 'inner');
const receiversOf = (kind: RecordKind): Side[] => (['inner', 'outer'] as const).filter((side) => CHANNEL.receives[side].has(kind));
// A hello names the side that sends it.
const sampleFor = (kind: RecordKind, receiver: Side): object => (kind === 'hello' ? { ...SAMPLES.hello, side: other(receiver) } : SAMPLES[kind]);

function refused(fn: () => unknown, matches: RegExp, what: string): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RecordError, what);
    assert.match((err as Error).message, matches, what);
    return;
  }
  assert.unreachable(`expected a RecordError: ${what}`);
}

// Handlers that do nothing, typed from the table: the compiler refuses a missing kind.
const noop = (): void => {};
const OUTER: ChannelHandlers<'outer'> = { order: noop, 'notification.ack': noop, refund: noop, 'statement.request': noop };
const INNER: ChannelHandlers<'inner'> = {
  'order.ack': noop, outcome: noop, notification: noop, 'notify.refused': noop, 'refund.outcome': noop,
  'statement.part': noop, 'statement.failed': noop, metrics: noop,
};

// ---- the receive check, row by row

test('a valid record of each kind, with all its fields, is accepted by the side that receives it', () => {
  for (const kind of CHANNEL.kinds) {
    const declared = Object.keys((CHANNEL.schemaOf(kind) as { properties: object }).properties).sort();
    assert.equal(Object.keys(SAMPLES[kind]).sort(), declared, `the ${kind} sample has every field of its row`);
    const receivers = receiversOf(kind);
    assert.ok(receivers.length > 0, `${kind} has a receiver`);
    for (const side of receivers) assert.equal(checkRecord(sampleFor(kind, side), side), sampleFor(kind, side), `${kind} to ${side}`);
  }
});

test('a record of each kind going the wrong way is refused; only hello and heartbeat go both ways', () => {
  for (const kind of CHANNEL.kinds) {
    const { from } = CHANNEL.rows[kind];
    if (from === 'both') {
      assert.equal(receiversOf(kind), ['inner', 'outer'], `${kind} is received by both sides`);
      continue;
    }
    assert.equal(receiversOf(kind), [other(from)], `${kind} is received by the ${other(from)} side only`);
    refused(() => checkRecord(SAMPLES[kind], from), new RegExp(`the ${from} side does not receive ${kind.replace('.', '\\.')} records`), `${kind} back to ${from}`);
  }
  assert.equal(CHANNEL.kinds.filter((kind) => CHANNEL.rows[kind].from === 'both'), ['hello', 'heartbeat']);
});

test('a record of each kind with an extra field, or without a required one, is refused', () => {
  for (const kind of CHANNEL.kinds) {
    for (const side of receiversOf(kind)) {
      const sample = sampleFor(kind, side);
      refused(() => checkRecord({ ...sample, patientId: 'P-1001' }, side), /must NOT have additional properties/, `${kind} with an extra field`);
      const required = (CHANNEL.schemaOf(kind) as { required: string[] }).required.filter((field) => field !== 'k');
      for (const field of required) {
        const without: Record<string, unknown> = { ...sample };
        delete without[field];
        refused(() => checkRecord(without, side), new RegExp(`must have required property '${field}'`), `${kind} without ${field}`);
      }
    }
  }
  const part = SAMPLES['statement.part'];
  refused(() => checkRecord({ ...part, lines: [{ ...part.lines[0], patientId: 'P-1001' }] }, 'inner'), /lines\/0/, 'a statement line with an extra field');
});

test('a record of a kind that is not a row is refused by both sides', () => {
  for (const kind of CHANNEL.kinds) {
    for (const side of ['inner', 'outer'] as const) {
      refused(() => checkRecord({ ...SAMPLES[kind], k: `${kind}.x` }, side), /unknown record kind/, `${kind}.x to ${side}`);
    }
  }
  for (const k of ['constructor', 'toString', '__proto__', 'patient.info', '', 'ORDER']) {
    refused(() => checkRecord({ k }, 'outer'), /unknown record kind/, JSON.stringify(k));
  }
});

test('each answer goes back the other way: the receiver of a kind sends its answers', () => {
  for (const kind of CHANNEL.kinds) {
    for (const answer of CHANNEL.rows[kind].answers) {
      assert.equal(receiversOf(answer), CHANNEL.rows[kind].from === 'both' ? ['inner', 'outer'] : [CHANNEL.rows[kind].from], `${kind} answered by ${answer}`);
    }
  }
  assert.throws(() => defineChannel({ ask: { from: 'inner', answers: ['tell'], fields: {} }, tell: { from: 'inner', answers: [], fields: {} } }), /does not go back the other way/);
  // @ts-expect-error: the compiler refuses an answer that is not a kind of the table
  assert.throws(() => defineChannel({ ask: { from: 'inner', answers: ['nothing'], fields: {} } }), /not a kind/);
});

// ---- every channel kind has a handler on its receiving side

test('every channel kind has a handler on its receiving side', () => {
  CHANNEL.checkHandlers('outer', OUTER);
  CHANNEL.checkHandlers('inner', INNER);
  for (const side of ['inner', 'outer'] as const) {
    const handled = CHANNEL.handledBy(side);
    assert.equal(handled, CHANNEL.kinds.filter((kind) => CHANNEL.rows[kind].from === other(side)), `${side} handles what its peer sends`);
  }
  assert.equal([...CHANNEL.handledBy('inner'), ...CHANNEL.handledBy('outer'), 'hello', 'heartbeat'].sort(), [...CHANNEL.kinds].sort(), 'every kind is handled somewhere');
});

test('a row added without a handler on its receiving side is refused at start, naming the kind', () => {
  const extended = defineChannel({
    ...CHANNEL.rows,
    'order.cancel': { from: 'inner', answers: [], fields: { orderId: string({ pattern: '^P' }), at: integer({ minimum: 0 }) } },
  });
  // The records of the new row are checked like any other...
  assert.ok(extended.check({ k: 'order.cancel', orderId: 'P-1', at: 1 }, 'outer'));
  // ...but the outer side's map, complete for the real table, lacks it.
  assert.throws(() => extended.checkHandlers('outer', OUTER), /the outer side's channel handlers are wrong: no handler for order\.cancel/);
  assert.throws(() => extended.receiver('outer', OUTER as never), /no handler for order\.cancel/);
  // The side that sends it has nothing to add.
  extended.checkHandlers('inner', INNER);
  extended.checkHandlers('outer', { ...OUTER, 'order.cancel': noop });
});

test('a handler map missing a kind, or with a handler for a kind its side does not receive, is refused', () => {
  const { refund: _refund, ...withoutRefund } = OUTER;
  assert.throws(() => CHANNEL.receiver('outer', withoutRefund as never), /no handler for refund$/);
  assert.throws(() => CHANNEL.checkHandlers('outer', { ...OUTER, refund: 'relay' }), /no handler for refund$/);
  assert.throws(() => CHANNEL.checkHandlers('inner', { ...INNER, order: noop }), /a handler for order, which it does not receive/);
  assert.throws(() => CHANNEL.checkHandlers('inner', { ...INNER, hello: noop }), /a handler for hello, which it does not receive/);
});

test('the receivers of one side join into one complete map, and a kind claimed twice is refused', () => {
  const got: string[] = [];
  const payments: Pick<ChannelHandlers<'inner'>, 'order.ack' | 'outcome' | 'notification' | 'refund.outcome' | 'notify.refused'> = {
    'order.ack': (r) => got.push(`payments ${r.k}`), outcome: (r) => got.push(`payments ${r.k}`), notification: noop, 'refund.outcome': noop, 'notify.refused': noop,
  };
  const statements: Pick<ChannelHandlers<'inner'>, 'statement.part' | 'statement.failed'> = {
    'statement.part': noop, 'statement.failed': (r) => got.push(`statements ${r.k}`),
  };
  const receive = CHANNEL.receiver('inner', joinHandlers(payments, statements, { metrics: noop }));
  receive(SAMPLES.outcome);
  receive(SAMPLES['statement.failed']);
  receive(SAMPLES['order.ack']);
  assert.equal(got, ['payments outcome', 'statements statement.failed', 'payments order.ack']);
  assert.throws(() => joinHandlers(payments, statements, { outcome: noop }), /two receivers handle outcome records/);
  // The connection consumes hello and heartbeat itself: no handler map sees them.
  assert.throws(() => receive(SAMPLES.heartbeat), /no handler for heartbeat/);
});

test('a handler that fails later is reported with its record, and the next record is still handled', async () => {
  const errors: string[] = [];
  const handled: string[] = [];
  const receive = CHANNEL.receiver('inner', {
    ...INNER,
    outcome: async () => {
      throw new Error('store closed');
    },
    'order.ack': (r) => handled.push(r.orderId),
  }, (err, record) => errors.push(`${record.k}: ${(err as Error).message}`));
  receive(SAMPLES.outcome);
  receive(SAMPLES['order.ack']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(errors, ['outcome: store closed']);
  assert.equal(handled, ['P20261126-abcd-000001']);
});

// ---- README.md's list of kinds

// Rows of README's table under "### Channel record kinds": | kinds | from → to | answered by | what |
function readmeRows(): Array<{ kinds: string[]; direction: string; answers: string[] }> {
  const text = fs.readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('### Channel record kinds'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| --- |')));
  const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return table.split('\n').filter((line) => line.startsWith('| `')).map((line) => {
    const [kinds = '', direction = '', answers = ''] = line.split('|').slice(1).map((cell) => cell.trim());
    return { kinds: ticked(kinds), direction, answers: ticked(answers) };
  });
}

test("README.md's table of channel record kinds lists every row once, with its direction and answers", () => {
  const rows = readmeRows();
  const listed = rows.flatMap((row) => row.kinds);
  assert.equal([...listed].sort(), [...CHANNEL.kinds].sort(), 'the README lists exactly the kinds of the table');
  assert.is(new Set(listed).size, listed.length, 'each kind once');
  const directionOf = (from: string) => (from === 'both' ? 'both ways' : `${from} → ${other(from as Side)}`);
  for (const row of rows) {
    for (const kind of row.kinds as RecordKind[]) {
      assert.is(row.direction, directionOf(CHANNEL.rows[kind].from), `direction of ${kind}`);
      assert.equal(row.answers, [...CHANNEL.rows[kind].answers], `answers to ${kind}`);
    }
  }
});

test.run();
