// The gap's checks, in order, and its idempotency, without sockets: the example rules,
// a real store in a temp dir, the real bill handlers, and a recorder where the broker
// would publish on each device's down topic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadRules } from '../../runtime/rules/load.js';
import type { DeviceRule } from '../../runtime/rules/types.js';
import { Gap } from '../../runtime/inner/gap/gap.js';
import { Replies } from '../../runtime/inner/outbox/replies.js';
import type { OutboxDelivery } from '../../runtime/inner/outbox/delivery.js';
import type { AfterCommit } from '../../runtime/inner/gap/handler.js';
import { billCreate } from '../../runtime/inner/handlers/bill-create.js';
import { billQuery } from '../../runtime/inner/handlers/bill-query.js';
import { verifyAudit } from '../../runtime/inner/store/index.js';
import { topics } from '../../devices/protocol.js';
import { silentLog, storeFixture } from '../helpers/store.js';

const fixture = storeFixture(test, 'gap');
const rules = loadRules('rules');
const desk = rules.devices.get('billing-01')!;
const kiosk = rules.devices.get('kiosk-01')!;
// Only the types these handlers take: each gap compiles the schemas it is given.
const messages = new Map([...rules.messages].filter(([type]) => type === 'bill.create' || type === 'bill.query'));
const NOW = new Date('2026-11-26T01:30:00.000Z');

interface Down { v: number; id: string; re?: string; type: string; ts: string; body: Record<string, unknown> }

async function gapOnStore() {
  const dir = await fixture.tempDir();
  const store = await fixture.openStore(dir);
  let nowMs = NOW.getTime();
  const published = new Map<string, Down[]>();
  const effects: AfterCommit[][] = [];
  const replies = new Replies(store, () => new Date(nowMs));
  // The broker's publish, recorded per topic. No handler here posts to an outbox, so
  // there is no delivery to make.
  replies.connect(async (topic, payload) => {
    published.set(topic, [...(published.get(topic) ?? []), JSON.parse(payload) as Down]);
  }, undefined as unknown as OutboxDelivery);
  const gap = new Gap({
    messages, handlers: [billCreate(() => new Date(nowMs)), billQuery(store)],
    store, log: silentLog, replies, afterCommit: (e) => void effects.push([...e]), now: () => nowMs,
  });
  const send = (device: DeviceRule, type: string, payload: string | Buffer | object) =>
    gap.receive(device, type, Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)));
  return {
    dir, store, gap, send, effects,
    down: (device: DeviceRule) => published.get(topics.down(device.id)) ?? [],
    last: (device: DeviceRule) => (published.get(topics.down(device.id)) ?? []).at(-1)!,
    advance: (ms: number) => void (nowMs += ms),
    audit: async () => (await store.list<{ event: Record<string, unknown> }>('audit!')).map(([, e]) => e.event),
  };
}

const envelope = (id: string, type: string, body: object) => ({ v: 1, id, type, ts: NOW.toISOString(), body });
const billBody = (reference = 'INV-1', extra: object = {}) => ({
  patientId: 'P-100', reference, currency: 'CNY', total: 2500,
  items: [{ code: 'LAB-1', name: 'Blood test', quantity: 1, unitPrice: 2500 }], ...extra,
});
const bill = (id: string, body: object = billBody()) => envelope(id, 'bill.create', body);

function refused(message: Down, code: string, path?: string, re?: string) {
  assert.is(message.type, 'error');
  assert.is(message.body.code, code);
  assert.is(message.body.path, path);
  assert.is(message.re, re);
  assert.type(message.body.message, 'string');
}

test('an undeclared type is refused UNKNOWN_TYPE, answered under the request id it carried, and audited', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.delete', envelope('r-1', 'bill.delete', {}));
  refused(g.last(desk), 'UNKNOWN_TYPE', undefined, 'r-1');
  assert.equal((await g.audit()).at(-1), { kind: 'gap.refused', device: 'billing-01', type: 'bill.delete', code: 'UNKNOWN_TYPE', id: 'r-1' });
});

test('a payload over the type\'s maxBytes is refused TOO_LARGE before it is parsed', async () => {
  const g = await gapOnStore();
  const max = rules.messages.get('bill.create')!.maxBytes;
  await g.send(desk, 'bill.create', Buffer.alloc(max + 1, '{'));
  refused(g.last(desk), 'TOO_LARGE');
  const notJsonButSmall = Buffer.alloc(max, '{');
  await g.send(desk, 'bill.create', notJsonButSmall);
  refused(g.last(desk), 'MALFORMED', undefined, undefined);
});

test('a payload that is not UTF-8, or not JSON, is refused MALFORMED', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
  refused(g.last(desk), 'MALFORMED');
  assert.match(String(g.last(desk).body.message), /UTF-8/);
  await g.send(desk, 'bill.create', '{"v":1,');
  refused(g.last(desk), 'MALFORMED');
  assert.match(String(g.last(desk).body.message), /not JSON/);
});

test('a bad envelope is refused ENVELOPE with the path of the field, and still answered under its id', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', { ...bill('r-2'), v: 2 });
  refused(g.last(desk), 'ENVELOPE', '/v', 'r-2');
  const { ts: _ts, ...noTs } = bill('r-3');
  await g.send(desk, 'bill.create', noTs);
  refused(g.last(desk), 'ENVELOPE', '/ts', 'r-3');
  await g.send(desk, 'bill.create', { ...bill('r-4'), extra: 1 });
  refused(g.last(desk), 'ENVELOPE', '/extra', 'r-4');
  await g.send(desk, 'bill.create', { ...bill('bad id!') });
  refused(g.last(desk), 'ENVELOPE', '/id', undefined);
});

test('an envelope whose type is not the topic\'s is refused TOPIC_MISMATCH at /type', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', envelope('r-5', 'bill.query', { patientId: 'P-100' }));
  refused(g.last(desk), 'TOPIC_MISMATCH', '/type', 'r-5');
});

test('a role the type does not list is refused FORBIDDEN_TYPE, before its card number is looked at', async () => {
  const g = await gapOnStore();
  await g.send(kiosk, 'bill.create', bill('r-6', billBody('4111111111111111')));
  refused(g.last(kiosk), 'FORBIDDEN_TYPE', '/type', 'r-6');
  assert.equal(g.down(desk), []);
});

test('past its burst a device is refused RATE_LIMIT, and is let through again as the clock refills the bucket', async () => {
  const g = await gapOnStore();
  const { burst, perMinute } = rules.messages.get('bill.query')!.rate;
  const query = (n: number) => g.send(kiosk, 'bill.query', envelope(`q-${n}`, 'bill.query', { patientId: 'P-100' }));
  for (let n = 1; n <= burst; n++) await query(n);
  assert.ok(g.down(kiosk).every((m) => m.type === 'bill.list'), 'the burst is let through');
  await query(burst + 1);
  refused(g.last(kiosk), 'RATE_LIMIT', undefined, `q-${burst + 1}`);
  await g.send(rules.devices.get('kiosk-02')!, 'bill.query', envelope('q-other', 'bill.query', { patientId: 'P-100' }));
  assert.is(g.down(rules.devices.get('kiosk-02')!)[0]!.type, 'bill.list', 'each device has its own bucket');
  g.advance(60_000 / perMinute);
  await query(burst + 2);
  assert.is(g.last(kiosk).type, 'bill.list');
  await query(burst + 3);
  refused(g.last(kiosk), 'RATE_LIMIT', undefined, `q-${burst + 3}`);
});

test('a card number anywhere in the payload is refused CARD_DATA with its path, before the schema', async () => {
  const g = await gapOnStore();
  const body = billBody('INV-2');
  body.items[0]!.name = 'card 4111 1111 1111 1111';
  await g.send(desk, 'bill.create', bill('r-7', { ...body, note: 'an unknown field the schema would refuse' }));
  refused(g.last(desk), 'CARD_DATA', '/body/items/0/name', 'r-7');
});

test('a body that does not match the type\'s schema is refused SCHEMA with the path of the field', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', bill('r-8', billBody('INV-3', { total: 25.5 })));
  refused(g.last(desk), 'SCHEMA', '/body/total', 'r-8');
  const { currency: _c, ...noCurrency } = billBody('INV-3');
  await g.send(desk, 'bill.create', bill('r-9', noCurrency));
  refused(g.last(desk), 'SCHEMA', '/body/currency', 'r-9');
  await g.send(desk, 'bill.create', bill('r-10', billBody('INV-3', { note: 'x' })));
  refused(g.last(desk), 'SCHEMA', '/body/note', 'r-10');
});

test('a refusal by the handler (a total that is not the sum) is answered and audited like the gap\'s own', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', bill('r-11', billBody('INV-4', { total: 2400 })));
  const answer = g.last(desk);
  assert.is(answer.type, 'error');
  assert.is(answer.re, 'r-11');
  assert.is((await g.audit()).at(-1)!.code, answer.body.code);
  assert.equal(await g.store.list('idem!'), [], 'nothing accepted');
});

test('an accepted bill is answered once, audited in its transaction, and leaves its effects to run', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', bill('r-12'));
  const [answer, ...more] = g.down(desk);
  assert.equal(more, []);
  assert.is(answer!.type, 'bill.created');
  assert.is(answer!.re, 'r-12');
  assert.equal({ ...answer!.body, billId: undefined }, { billId: undefined, reference: 'INV-1', total: 2500, currency: 'CNY', status: 'open' });
  assert.equal(g.effects, [[]]);
  const kinds = (await g.audit()).map((e) => e.kind);
  assert.equal(kinds, ['bill.created', 'gap.accepted']);
  assert.equal((await g.audit()).at(-1), { kind: 'gap.accepted', device: 'billing-01', type: 'bill.create', id: 'r-12' });
});

test('the same id with the same body gets the same answer and creates nothing new; with another body CONFLICT at /id', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.create', bill('r-13'));
  const first = g.last(desk);
  // Key order is not the body: the same request serialised otherwise is the same request.
  const body = billBody();
  await g.send(desk, 'bill.create', { body: Object.fromEntries(Object.entries(body).reverse()), ts: NOW.toISOString(), type: 'bill.create', id: 'r-13', v: 1 });
  const again = g.last(desk);
  assert.is.not(again.id, first.id, 'a new message');
  assert.equal([again.type, again.re, again.body], [first.type, first.re, first.body]);
  await g.send(desk, 'bill.create', bill('r-13', billBody('INV-9')));
  refused(g.last(desk), 'CONFLICT', '/id', 'r-13');
  const audit = await g.audit();
  assert.equal(audit.filter((e) => e.kind === 'bill.created').length, 1);
  assert.equal(audit.filter((e) => e.kind === 'gap.accepted').length, 1);
  assert.equal(audit.at(-1), { kind: 'gap.refused', device: 'billing-01', type: 'bill.create', code: 'CONFLICT', id: 'r-13', path: '/id' });
});

test('a resent query is answered with the bills as they are now, not as they were', async () => {
  const g = await gapOnStore();
  const query = envelope('q-1', 'bill.query', { patientId: 'P-100' });
  await g.send(kiosk, 'bill.query', query);
  assert.equal(g.last(kiosk).body.bills, []);
  await g.send(desk, 'bill.create', bill('r-14'));
  const { billId } = g.last(desk).body;
  await g.send(kiosk, 'bill.query', query);
  assert.equal((g.last(kiosk).body.bills as Array<{ billId: string }>).map((b) => b.billId), [billId]);
});

test('every refusal and acceptance is in the audit chain, which verifies', async () => {
  const g = await gapOnStore();
  await g.send(desk, 'bill.nope', '{}');
  await g.send(desk, 'bill.create', 'not json');
  await g.send(kiosk, 'bill.create', bill('r-15'));
  await g.send(desk, 'bill.create', bill('r-16'));
  await g.send(desk, 'bill.create', bill('r-16', billBody('INV-8')));
  const events = await g.audit();
  assert.equal(events.map((e) => [e.kind, e.code ?? e.type]), [
    ['gap.refused', 'UNKNOWN_TYPE'], ['gap.refused', 'MALFORMED'], ['gap.refused', 'FORBIDDEN_TYPE'],
    ['bill.created', undefined], ['gap.accepted', 'bill.create'], ['gap.refused', 'CONFLICT'],
  ]);
  await g.store.close();
  assert.equal(await verifyAudit(g.dir), { ok: true, entries: events.length });
});

test.run();
