// The order book without sockets: a real LevelDB store, the guarded state machine, the
// first answer's one decision, and what each move writes to the outbox.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChannelConnection } from '../../runtime/channel/connection.js';
import type { AfterCommit } from '../../runtime/inner/gap/handler.js';
import { OrderBook } from '../../runtime/inner/payments/order-book.js';
import { OuterLink } from '../../runtime/inner/payments/link.js';
import { FirstAnswers } from '../../runtime/inner/payments/first-answers.js';
import { billPayable } from '../../runtime/inner/billing/payable.js';
import { billKey, createBill, setBillStatus, type Bill } from '../../runtime/inner/billing/bills.js';
import { outboxPrefix, type OutboxEntry } from '../../runtime/inner/outbox/records.js';
import type { Order } from '../../runtime/inner/payments/order.js';
import type { Store } from '../../runtime/inner/store/store.js';
import { silentLog, storeFixture } from '../helpers/store.js';

const fixture = storeFixture(test, 'order-book');
const NOW = new Date('2026-11-26T01:30:00.000Z');
const items = [{ code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 }];

interface Book { store: Store; book: OrderBook; answers: FirstAnswers; effects: AfterCommit[]; close(): void }

async function book(): Promise<Book> {
  const store = await fixture.openStore(await fixture.tempDir());
  const link = new OuterLink(store, silentLog, () => NOW);
  // A long wait: a test ends it with close(), never by sleeping.
  const answers = new FirstAnswers(60_000);
  const effects: AfterCommit[] = [];
  const b = new OrderBook({ store, log: silentLog, link, answers, payables: [billPayable], afterCommit: (e) => effects.push(...e), now: () => NOW });
  return { store, book: b, answers, effects, close: () => { answers.close(); link.close(); } };
}

// A bill of the desk, and an order paying it, as payment.request leaves them.
async function billPaying(b: Book, method: 'code' | 'qr' = 'code'): Promise<Order> {
  return b.store.transact(async (tx) => {
    const bill = await createBill(tx, 'billing-01', { patientId: 'P-1', reference: `R-${Math.random()}`, items, total: 3500, currency: 'CNY' }, NOW);
    const order = await b.book.open(tx, { device: 'kiosk-01', requestId: 'req-1', pays: { billId: bill.billId }, amount: 3500, method, ...(method === 'code' ? { authCode: '134567' } : {}), description: 'x' });
    setBillStatus(tx, bill, 'paying', { orderId: order.orderId });
    return order;
  });
}

const outbox = async (store: Store, device: string) => (await store.list<OutboxEntry>(outboxPrefix(device))).map(([, e]) => e);
const outcome = (orderId: string, status: 'pending' | 'succeeded' | 'failed' | 'unknown', extra: object = {}) => ({ k: 'outcome' as const, orderId, status, amount: 3500, ...extra });

test('an order that succeeds while its request waits is answered directly; only bill.paid goes to the outbox', async () => {
  const b = await book();
  const order = await billPaying(b);
  const answer = b.book.firstAnswer(order);
  await b.book.onOutcome(outcome(order.orderId, 'succeeded'));
  assert.ok(b.effects.some((e) => e.kind === 'answer'), 'the waiting request takes the result');
  b.answers.give((await b.book.order(order.orderId)));
  assert.is(((await answer).body as { status: string }).status, 'succeeded');
  assert.equal(await outbox(b.store, 'kiosk-01'), []);
  const paid = await outbox(b.store, 'billing-01');
  assert.equal(paid.map((e) => e.type), ['bill.paid']);
  assert.is((await b.store.get<Bill>(billKey(order.billId!)))!.status, 'paid');
  b.close();
});

test('an order that becomes final when no request waits puts the final payment.result in the kiosk\'s outbox, naming the request', async () => {
  const b = await book();
  const order = await billPaying(b, 'qr');
  await b.book.onOutcome(outcome(order.orderId, 'pending', { qrCode: 'weixin://q/1' }));
  assert.equal(await outbox(b.store, 'kiosk-01'), [], 'nothing final yet');
  await b.book.onOutcome(outcome(order.orderId, 'succeeded'));
  const [late] = await outbox(b.store, 'kiosk-01');
  assert.is(late!.type, 'payment.result');
  assert.is(late!.re, 'req-1');
  assert.is((late!.body as { status: string }).status, 'succeeded');
  assert.ok(b.effects.some((e) => e.kind === 'outbox' && e.device === 'kiosk-01'));
  b.close();
});

test('a final outcome contradicting a final order is audited and changes nothing', async () => {
  const b = await book();
  const order = await billPaying(b);
  await b.book.onOutcome(outcome(order.orderId, 'succeeded'));
  const before = await outbox(b.store, 'kiosk-01');
  await b.book.onOutcome(outcome(order.orderId, 'failed'));
  assert.is((await b.book.order(order.orderId)).status, 'succeeded');
  assert.equal(await outbox(b.store, 'kiosk-01'), before);
  const kinds = (await b.store.list<{ event: { kind: string } }>('audit!')).map(([, e]) => e.event.kind);
  assert.ok(kinds.includes('payment.outcome.contradiction'));
  b.close();
});

test('an outcome of another amount moves nothing', async () => {
  const b = await book();
  const order = await billPaying(b);
  await b.book.onOutcome({ ...outcome(order.orderId, 'succeeded'), amount: 1 });
  assert.is((await b.book.order(order.orderId)).status, 'accepted');
  assert.equal(await outbox(b.store, 'billing-01'), []);
  b.close();
});

test('a failed payment reopens the bill and tells the desk nothing', async () => {
  const b = await book();
  const order = await billPaying(b);
  await b.book.onOutcome(outcome(order.orderId, 'failed', { reason: 'declined' }));
  assert.is((await b.store.get<Bill>(billKey(order.billId!)))!.status, 'open');
  assert.equal(await outbox(b.store, 'billing-01'), []);
  assert.equal((await outbox(b.store, 'kiosk-01')).map((e) => (e.body as { status: string }).status), ['failed']);
  b.close();
});

test('a notification completes a scan-to-pay once; the same notification again is a duplicate that writes nothing', async () => {
  const b = await book();
  const order = await billPaying(b, 'qr');
  const acks: object[] = [];
  const connection = { send: (r: object) => acks.push(r) } as unknown as ChannelConnection;
  const notification = { k: 'notification' as const, notifyId: 'N-1', orderId: order.orderId, status: 'succeeded' as const, amount: 3500, currency: 'CNY' as const };
  await b.book.onNotification(connection, notification);
  await b.book.onNotification(connection, notification);
  assert.equal(acks, [
    { k: 'notification.ack', notifyId: 'N-1', accepted: true },
    { k: 'notification.ack', notifyId: 'N-1', accepted: true, seen: 'same' },
  ]);
  assert.is((await outbox(b.store, 'billing-01')).length, 1, 'one bill.paid');
  assert.is((await outbox(b.store, 'kiosk-01')).length, 1, 'one payment.result');
  b.close();
});

test.run();
