// The outbox's records and the first-answer decision, without sockets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { envelopeOf, outboxPrefix, pendingFor, post, remove, type OutboxEntry } from '../../runtime/inner/outbox/records.js';
import { OutboxCounts } from '../../runtime/inner/outbox/counts.js';
import { FirstAnswers } from '../../runtime/inner/payments/first-answers.js';
import type { Order } from '../../runtime/inner/payments/order.js';
import { DEFAULT_RESEND_MS } from '../../devices/client.js';
import { RULE_DEFAULTS } from '../../runtime/rules/defaults.js';
import { storeFixture } from '../helpers/store.js';
import { ManualClock } from '../../runtime/common/clock.js';

const fixture = storeFixture(test, 'outbox');
const NOW = new Date('2026-11-26T01:30:00.000Z');
const paid = (n: number) => ({ type: 'bill.paid', body: { billId: `B-${n}` } });

test('messages wait per device, oldest first, under stable ids, until removed', async () => {
  const store = await fixture.openStore(await fixture.tempDir());
  const ids = await store.transact(async (tx) => [
    (await post(tx, 'billing-01', paid(1), NOW)).entry.messageId,
    (await post(tx, 'billing-01', paid(2), NOW)).entry.messageId,
    (await post(tx, 'kiosk-01', { type: 'payment.result', body: {}, re: 'req-1' }, NOW)).entry.messageId,
  ]);
  const desk = await pendingFor(store, 'billing-01', 10);
  assert.equal(desk.map((e) => (e.body as { billId: string }).billId), ['B-1', 'B-2']);
  assert.equal(desk.map((e) => e.messageId), ids.slice(0, 2));
  const [kiosk] = await pendingFor(store, 'kiosk-01', 10);
  assert.equal(JSON.parse(envelopeOf(kiosk!)), { v: 1, id: ids[2], re: 'req-1', type: 'payment.result', ts: NOW.toISOString(), body: {} });
  await remove(store, 'billing-01', [ids[0]!]);
  assert.equal((await pendingFor(store, 'billing-01', 10)).map((e) => e.messageId), [ids[1]]);
});

test('past the per-device cap the oldest message goes, with an audit entry, never silently', async () => {
  const store = await fixture.openStore(await fixture.tempDir());
  const dropped: Array<OutboxEntry | undefined> = [];
  for (let i = 1; i <= 4; i++) dropped.push(await store.transact(async (tx) => (await post(tx, 'billing-01', paid(i), NOW, 3)).dropped));
  assert.equal(dropped.map((d) => d && (d.body as { billId: string }).billId), [undefined, undefined, undefined, 'B-1']);
  assert.equal((await store.list<OutboxEntry>(outboxPrefix('billing-01'))).map(([, e]) => (e.body as { billId: string }).billId), ['B-2', 'B-3', 'B-4']);
  const audit = (await store.list<{ event: { kind: string; type?: string } }>('audit!')).map(([, e]) => e.event);
  assert.equal(audit.filter((e) => e.kind === 'outbox.dropped').map((e) => e.type), ['bill.paid']);
});

test('with the counts kept in memory the cap drops exactly what a full listing would, across acknowledgements, duplicate ones, other deletes and failed transactions', async () => {
  // The same steps on two stores: one that lists the outbox on every post, one that keeps counts.
  const plain = await fixture.openStore(await fixture.tempDir());
  const counted = await fixture.openStore(await fixture.tempDir());
  const counts = new OutboxCounts(counted);
  const bill = (e: OutboxEntry) => (e.body as { billId: string }).billId;
  let n = 0;
  const step = async (what: string): Promise<void> => {
    const results = await Promise.all([plain, counted].map(async (store) => {
      const c = store === counted ? counts : undefined;
      const drops: string[] = [];
      const postOne = async (tx: Parameters<Parameters<typeof store.transact>[0]>[0], i: number, at = NOW) => {
        const { dropped } = await post(tx, 'billing-01', paid(i), at, 3, c);
        if (dropped) drops.push(bill(dropped));
      };
      const i = n;
      if (what === 'post') await store.transact((tx) => postOne(tx, i));
      if (what === 'post twice') await store.transact(async (tx) => { await postOne(tx, i); await postOne(tx, i + 0.5); });
      if (what === 'post, then fail') await store.transact(async (tx) => { await postOne(tx, i); throw new Error('later step failed'); }).catch(() => drops.push('failed'));
      if (what === 'post, clock set back a day') await store.transact((tx) => postOne(tx, i, new Date(NOW.getTime() - 86_400_000)));
      if (what === 'ack oldest') {
        const [oldest] = await pendingFor(store, 'billing-01', 1);
        await remove(store, 'billing-01', [oldest!.messageId], c);
      }
      if (what === 'ack oldest twice') {
        // A PUBACK for a message already removed (a duplicate, or one the cap took) counts once.
        const [oldest] = await pendingFor(store, 'billing-01', 1);
        await remove(store, 'billing-01', [oldest!.messageId], c);
        await remove(store, 'billing-01', [oldest!.messageId, 'M20261126-gone-000001'], c);
      }
      if (what === 'ack without the counts') {
        const [oldest] = await pendingFor(store, 'billing-01', 1);
        await remove(store, 'billing-01', [oldest!.messageId]);
      }
      if (what === 'prune oldest') {
        const [[key]] = await store.list(outboxPrefix('billing-01'), { limit: 1 }) as Array<[string, unknown]> as [[string, unknown]];
        await store.transact((tx) => tx.del(key));
      }
      return { drops, waiting: (await pendingFor(store, 'billing-01', 10)).map(bill) };
    }));
    assert.equal(results[1], results[0], `after ${what} (step ${n})`);
    n += 1;
  };
  for (const what of ['post', 'post', 'post', 'post', 'ack oldest', 'post', 'post', 'prune oldest', 'prune oldest', 'post',
    'post, then fail', 'post', 'post twice', 'post', 'ack oldest', 'post twice', 'post', 'post', 'post, clock set back a day', 'post',
    'post', 'post', 'ack oldest twice', 'post', 'post', 'ack without the counts', 'post', 'ack oldest', 'ack oldest', 'post', 'post',
    'post', 'post']) await step(what);
  const drops = (await counted.list<{ event: { kind: string } }>('audit!')).filter(([, e]) => e.event.kind === 'outbox.dropped').length;
  assert.ok(drops >= 5, `the cap was reached several times (${drops} drops)`);
});

const order = (status: Order['status'], extra: Partial<Order> = {}): Order => ({
  orderId: 'P-1', device: 'kiosk-01', requestId: 'req-1', billId: 'B-1', amount: 1, currency: 'CNY', method: 'qr',
  description: 'x', status, createdAt: NOW.toISOString(), updatedAt: NOW.toISOString(), ...extra,
});

test('a waiting first answer is taken once, by the move that makes it answerable', async () => {
  const answers = new FirstAnswers(60_000);
  const waiting = answers.wait(order('accepted'));
  assert.is(answers.take(order('unknown')), false, 'not answerable: the wait goes on');
  assert.is(answers.take(order('pending', { qrCode: 'q' })), true);
  assert.is(answers.take(order('succeeded')), false, 'already taken: the outbox carries the final result');
  answers.give(order('pending', { qrCode: 'q' }));
  assert.is((await waiting).qrCode, 'q');
  assert.is(answers.take(order('succeeded')), false, 'no longer waiting');
  answers.close();
});

test('a taken answer whose transaction failed is let go, and answered with what it had when the wait ends', async () => {
  const answers = new FirstAnswers(60_000);
  const waiting = answers.wait(order('accepted'));
  assert.ok(answers.take(order('succeeded')));
  answers.release('P-1');
  assert.ok(answers.waitingFor('P-1'));
  answers.close();
  assert.is((await waiting).status, 'accepted');
});

test("the first answer's wait ends on the side's clock: pending is answered when the clock passes the wait, not before", async () => {
  const clock = new ManualClock(NOW.getTime());
  const answers = new FirstAnswers(3_000, clock);
  let answered: Order | undefined;
  void answers.wait(order('accepted')).then((o) => { answered = o; });
  clock.advance(2_999);
  await Promise.resolve();
  assert.is(answered, undefined, 'still waiting 1 ms before the end');
  clock.advance(1);
  await Promise.resolve();
  assert.is(answered?.status, 'accepted', 'answered with what it had');
  answers.close();
});

test('a device resends a request later than the gateway waits for a payment\'s answer', () => {
  assert.ok(DEFAULT_RESEND_MS > RULE_DEFAULTS.limits.replyWaitMs, `${DEFAULT_RESEND_MS} ms > ${RULE_DEFAULTS.limits.replyWaitMs} ms`);
});

test.run();
