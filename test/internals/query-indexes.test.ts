// The query side's secondary indexes on a real store: a patient's orders (ordersOf) and
// the audit entries naming an order (auditOf) are written with their records, used by
// `ferry query`, built in the background for a store made before them (which meanwhile
// answers the same by reading every record), and removed by retention with what they
// point at; audit entries of a day are found without reading the chain from its start.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import pino from 'pino';
import { Store } from '../../runtime/inner/store/store.js';
import { HospitalDay } from '../../runtime/common/hospital-day.js';
import { KEYSPACE, prefixOf } from '../../runtime/inner/store/keyspace.js';
import { auditOfKey } from '../../runtime/inner/store/keys.js';
import { queryPage } from '../../runtime/inner/management/query.js';
import { KINDS, type QueryFilters } from '../../runtime/inner/management/kinds.js';
import { buildIndexes, indexedBy, indexMarkerKey } from '../../runtime/inner/management/indexes.js';
import { billKey, patientIndexKey, type Bill } from '../../runtime/inner/billing/bills.js';
import { orderKey, ordersOfKey, type Order } from '../../runtime/inner/payments/order.js';
import { Retention } from '../../runtime/inner/retention/retention.js';
import type { QueryKindName } from '../../runtime/inner/management/columns.js';
import { tempDir } from '../helpers/gateway.js';
import { openTestStore, removeStoreArtefacts } from '../helpers/store-backend.js';

const log = pino({ level: 'silent' });
const day = new HospitalDay('Asia/Shanghai');
const PATIENT = 'P-77';

// A paid bill and its order as the billing and payment modules leave them, with the
// order's audit entries; `indexed: false` writes them as a store made before ordersOf
// and auditOf existed.
async function paidBill(store: Store, n: number, at: string, o: { indexed: boolean; patient?: string }): Promise<string> {
  const billId = `B20261120-test-${String(n).padStart(6, '0')}`;
  const orderId = `P20261120-test-${String(n).padStart(6, '0')}`;
  const patientId = o.patient ?? PATIENT;
  await store.transact((tx) => {
    const bill: Bill = { billId, reference: `r${n}`, patientId, items: [], total: 100, currency: 'CNY', status: 'paid', createdBy: 'desk-01', createdAt: at, orderId, paidAt: at };
    tx.put(billKey(billId), bill);
    tx.put(patientIndexKey(patientId, billId), billId);
    const order: Order = { orderId, device: 'kiosk-01', requestId: `q${n}`, billId, amount: 100, currency: 'CNY', method: 'code', description: 'x', status: 'succeeded', createdAt: at, updatedAt: at };
    tx.put(orderKey(orderId), order);
    if (o.indexed) tx.put(ordersOfKey(patientId, orderId), orderId);
    const entry = tx.audit({ kind: 'payment.accepted', orderId, billId, amount: 100 });
    if (!o.indexed) tx.del(auditOfKey(orderId, entry.seq));
  });
  return orderId;
}

async function rows(store: Store, kind: QueryKindName, filters: QueryFilters): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await queryPage(store, day, { kind, filters, limit: 2, unmask: true, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

async function withStore(fn: (store: Store, dir: string) => Promise<void>, now?: () => Date): Promise<void> {
  const dir = tempDir('indexes');
  const store = await openTestStore(dir, log, now ? { now } : {});
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    removeStoreArtefacts(dir);
  }
}

test('a store made before the indexes answers by patient and order by reading every record, then builds them and reads only the index', async () => {
  await withStore(async (store) => {
    // A new store is stamped with its indexes complete (store/format.ts); without the
    // markers it is one written before them.
    await store.transact((tx) => {
      tx.del(indexMarkerKey('ordersOf'));
      tx.del(indexMarkerKey('auditOf'));
    });
    const mine = [await paidBill(store, 1, '2026-11-20T02:00:00.000Z', { indexed: false }), await paidBill(store, 3, '2026-11-20T03:00:00.000Z', { indexed: false })];
    await paidBill(store, 2, '2026-11-20T02:30:00.000Z', { indexed: false, patient: 'P-88' });
    assert.equal(await indexedBy(store), { ordersOf: false, auditOf: false });
    const before = (await rows(store, 'payments', { patient: PATIENT })).map((r) => r.orderId);
    assert.equal(before, mine);
    assert.is((await rows(store, 'audit', { order: mine[1]! })).length, 1);
    assert.is(KINDS.payments.narrow({ patient: PATIENT }, day, await indexedBy(store), store), undefined, 'no index yet: every order is read');

    const firstPage = await queryPage(store, day, { kind: 'payments', filters: { patient: PATIENT }, limit: 1, unmask: true });

    await buildIndexes(store, log, () => false);
    // A client paging while the index was built goes on where it was.
    const rest = await queryPage(store, day, { kind: 'payments', filters: { patient: PATIENT }, limit: 10, unmask: true, cursor: firstPage.nextCursor! });
    assert.equal([...firstPage.items, ...rest.items].map((r) => r.orderId), mine);
    const indexed = await indexedBy(store);
    assert.equal(indexed, { ordersOf: true, auditOf: true });
    assert.is(await store.get(ordersOfKey(PATIENT, mine[0]!)), mine[0]);
    const range = await KINDS.payments.narrow({ patient: PATIENT }, day, indexed, store);
    assert.is(range?.prefix, prefixOf('ordersOf', PATIENT));
    assert.equal((await rows(store, 'payments', { patient: PATIENT })).map((r) => r.orderId), mine);
    assert.equal((await rows(store, 'payments', { patient: PATIENT })).map((r) => r.patientId), [PATIENT, PATIENT]);
    const audit = await rows(store, 'audit', { order: mine[1]! });
    assert.equal(audit.map((a) => (a.event as { orderId: string }).orderId), [mine[1]]);
  });
});

test('a new order and its audit entries are indexed in their own transaction', async () => {
  await withStore(async (store) => {
    await buildIndexes(store, log, () => false); // an empty store: complete at once
    const orderId = await paidBill(store, 5, '2026-11-20T02:00:00.000Z', { indexed: true });
    const index = await store.list(prefixOf('auditOf', orderId));
    assert.is(index.length, 1);
    assert.equal((await rows(store, 'payments', { patient: PATIENT })).map((r) => r.orderId), [orderId]);
  });
});

test('retention deletes an order with its ordersOf and auditOf entries, and keeps a bill while its order stays', async () => {
  let now = new Date('2026-11-20T04:00:00.000Z');
  await withStore(async (store) => {
    await buildIndexes(store, log, () => false);
    const orderId = await paidBill(store, 1, '2026-11-20T02:00:00.000Z', { indexed: true });
    for (let i = 0; i < 3; i++) await store.audit({ kind: 'test.later' });
    now = new Date('2027-12-30T04:00:00.000Z');
    // Bills go after 30 days, payments after 400: the bill must wait for its order.
    const config = { paymentsDays: 400, billsDays: 30, registrationsDays: 400, dispatchesDays: 90, idempotencyDays: 30, auditDays: 180 };
    const early = new Retention({ store, config, day, log, now: () => new Date('2027-01-30T04:00:00.000Z') });
    const first = await early.run();
    assert.is(first.pruned.bills, 0, 'a bill whose order is kept stays');
    const report = await new Retention({ store, config, day, log, now: () => now }).run();
    assert.is(report.pruned.payments, 1);
    assert.is(report.pruned.bills, 1);
    assert.is(await store.get(orderKey(orderId)), undefined);
    assert.equal(await store.list(prefixOf('ordersOf', PATIENT)), []);
    assert.equal(await store.list(prefixOf('auditOf', orderId)), [], 'the pruned entry\'s auditOf goes with it');
    assert.equal(await store.list(KEYSPACE.auditOf.prefix), []);
    assert.ok((await store.verifyAudit()).ok);
  }, () => now);
});

test('audit entries of a day are found by their time, without those of the days around it', async () => {
  let now = new Date('2026-11-18T10:00:00.000Z');
  await withStore(async (store) => {
    const days = ['2026-11-18', '2026-11-19', '2026-11-20'];
    for (const d of days) {
      for (let h = 0; h < 24; h += 3) {
        now = new Date(`${d}T${String(h).padStart(2, '0')}:00:00.000Z`);
        await store.audit({ kind: 'test.tick', day: d });
      }
    }
    const found = await rows(store, 'audit', { date: '2026-11-19' });
    assert.ok(found.length > 0);
    assert.ok(found.every((r) => day.dayOf(r.ts as string) === '2026-11-19'));
    const all = await store.list<{ ts: string }>(KEYSPACE.audit.prefix);
    assert.is(found.length, all.filter(([, e]) => day.dayOf(e.ts) === '2026-11-19').length);
  }, () => now);
});

test('an index entry whose record has just gone is skipped, not answered', async () => {
  await withStore(async (store) => {
    await buildIndexes(store, log, () => false);
    const gone = await paidBill(store, 1, '2026-11-20T02:00:00.000Z', { indexed: true });
    const kept = await paidBill(store, 2, '2026-11-20T02:30:00.000Z', { indexed: true });
    await store.transact((tx) => tx.del(orderKey(gone)));
    assert.equal((await rows(store, 'payments', { patient: PATIENT })).map((r) => r.orderId), [kept]);
    assert.is(await store.get(indexMarkerKey('ordersOf')), true);
  });
});

test.run();
