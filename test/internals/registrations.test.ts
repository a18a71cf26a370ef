// Holds, bookings, expiry and slot pools, without sockets: the registration logic on a
// real store in a temp dir, with a clock the tests move instead of waiting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DepartmentsRule } from '../../runtime/rules/types.js';
import { HospitalDay } from '../../runtime/common/hospital-day.js';
import { FerryError } from '../../runtime/common/errors.js';
import { Registrations, regKey, type Registration } from '../../runtime/inner/registration/registrations.js';
import { loadPool, remaining, type SlotPool } from '../../runtime/inner/registration/pools.js';
import { ExpirySweeper } from '../../runtime/inner/registration/sweeper.js';
import { slotsStatus } from '../../runtime/inner/handlers/slots-status.js';
import type { Store } from '../../runtime/inner/store/index.js';
import type { DeviceRule } from '../../runtime/rules/types.js';
import type { Request, SlotsStatusBody } from '../../devices/protocol.js';
import { silentLog, storeFixture } from '../helpers/store.js';

const fixture = storeFixture(test, 'registrations');
// 09:30 in the hospital's zone: the morning session (08:00-12:00) is open.
const NOW = new Date('2026-11-26T01:30:00.000Z');
const DATE = '2026-11-26';
const HOLD_TTL_S = 300;

function departments(capacity: number): DepartmentsRule {
  return {
    holdTtlSeconds: HOLD_TTL_S, paymentGraceSeconds: 600, bookAheadDays: 7,
    sessions: [{ name: 'morning', startMinute: 480, endMinute: 720 }, { name: 'afternoon', startMinute: 810, endMinute: 1050 }],
    departments: new Map([['TST', {
      code: 'TST', name: 'Test', fees: { regular: 1500, expert: 5000 },
      capacity: { morning: capacity, afternoon: 3 }, gatewayNumbers: { morning: 1, afternoon: 1 },
    }]]),
  };
}

async function desk(capacity = 3) {
  const store = await fixture.openStore(await fixture.tempDir());
  const rules = departments(capacity);
  const day = new HospitalDay('Asia/Shanghai');
  const registrations = new Registrations(() => rules, day);
  let nowMs = NOW.getTime();
  const now = () => new Date(nowMs);
  const hold = (patientId: string, extra: object = {}) =>
    store.transact((tx) => registrations.hold(tx, 'kiosk-01', { dept: 'TST', session: 'morning', date: DATE, patientId, ...extra }, now()));
  const pool = () => store.transact((tx) => loadPool(tx, rules, 'TST', DATE, 'morning'));
  const reg = async (id: string) => (await store.get<Registration>(regKey(id)))!;
  const pay = async (id: string, orderId: string) => {
    await store.transact(async (tx) => registrations.markPaying(tx, await registrations.payable(tx, id, 1500, now()), orderId, now()));
    return store.transact((tx) => registrations.settle(tx, id, orderId, 'succeeded', now()));
  };
  return { store, rules, registrations, hold, pool, reg, pay, now, advance: (ms: number) => void (nowMs += ms) };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, FerryError);
    return (err as FerryError).code;
  }
  assert.unreachable('it was not refused');
  return '';
}

async function auditKinds(store: Store): Promise<string[]> {
  return (await store.list<{ event: { kind: string } }>('audit!')).map(([, e]) => e.event.kind);
}

test('a hold takes a slot and answers its id, fee and expiry', async () => {
  const d = await desk();
  const { registration, pool } = await d.hold('P-1', { level: 'expert' });
  assert.match(registration.registrationId, /^R/);
  assert.is(registration.fee, 5000);
  assert.is(registration.status, 'held');
  assert.is(registration.expiresAt, new Date(NOW.getTime() + HOLD_TTL_S * 1000).toISOString());
  assert.equal([pool.held, remaining(pool)], [1, 2]);
  assert.equal(await d.pool(), pool, 'the pool is stored as answered');
  assert.equal(await d.reg(registration.registrationId), registration);
  assert.equal(await auditKinds(d.store), ['registration.held']);
});

test('a hold for a department, session or level the rules do not have is refused with its code', async () => {
  const d = await desk();
  assert.is(await codeOf(d.hold('P-1', { dept: 'XXX' })), 'UNKNOWN_DEPT');
  assert.is(await codeOf(d.hold('P-1', { session: 'night' })), 'UNKNOWN_SESSION');
  assert.is(await codeOf(d.hold('P-1', { level: 'chief' })), 'UNKNOWN_LEVEL');
  assert.is(await codeOf(d.hold('P-1', { date: '2026-11-25' })), 'PAST_SESSION');
  assert.is(await codeOf(d.hold('P-1', { date: '2026-12-10' })), 'NOT_BOOKABLE_YET');
  assert.equal((await d.pool()).held, 0);
});

test('when the session is full the next hold is refused SOLD_OUT and takes nothing', async () => {
  const d = await desk(2);
  await d.hold('P-1');
  await d.hold('P-2');
  assert.is(await codeOf(d.hold('P-3')), 'SOLD_OUT');
  const pool = await d.pool();
  assert.equal([pool.held, remaining(pool)], [2, 0]);
  assert.equal(await auditKinds(d.store), ['registration.held', 'registration.held']);
});

test('an expired hold gives its slot back when the sweeper finds its time passed, not before', async () => {
  const d = await desk(1);
  const { registration } = await d.hold('P-1');
  const changed: SlotPool[] = [];
  const sweeper = new ExpirySweeper(d.store, d.registrations, (pool) => changed.push(pool), silentLog, d.now);
  try {
    d.advance(HOLD_TTL_S * 1000 - 1);
    await sweeper.sweep();
    assert.is((await d.reg(registration.registrationId)).status, 'held');
    assert.is(await codeOf(d.hold('P-2')), 'SOLD_OUT');
    d.advance(1);
    await sweeper.sweep();
  } finally {
    await sweeper.close();
  }
  assert.is((await d.reg(registration.registrationId)).status, 'expired');
  assert.equal(changed.map((p) => p.held), [0], 'the pool is republished once, with the slot free');
  assert.is(await codeOf(d.store.transact(async (tx) => d.registrations.payable(tx, registration.registrationId, 1500, d.now()))), 'HOLD_EXPIRED');
  const again = await d.hold('P-2');
  assert.is(again.pool.held, 1);
  assert.ok((await auditKinds(d.store)).includes('registration.expired'));
});

test('a paid hold becomes a booking with a visit number, and stops counting as a hold', async () => {
  const d = await desk();
  const first = (await d.hold('P-1')).registration.registrationId;
  const second = (await d.hold('P-2')).registration.registrationId;
  const one = await d.pay(first, 'P-order-1');
  const two = await d.pay(second, 'P-order-2');
  assert.equal(one.notices.map((n) => [n.device, n.type, (n.body as { visitNo: number }).visitNo]), [['kiosk-01', 'registration.booked', 1]]);
  assert.is((two.notices[0]!.body as { visitNo: number }).visitNo, 2);
  assert.is(one.refund, undefined);
  const booked = await d.reg(first);
  assert.equal([booked.status, booked.visitNo, booked.orderId], ['booked', 1, 'P-order-1']);
  const pool = await d.pool();
  assert.equal([pool.held, pool.booked, pool.visitSeq, remaining(pool)], [0, 2, 2, 1]);
});

test('the gateway\'s visit numbers skip the numbers the receiver reports the window took', async () => {
  const d = await desk(10);
  const receiver: DeviceRule = { id: 'receiver-01', role: 'receiver', disabled: false };
  const report = slotsStatus(() => d.rules, silentLog);
  const body: SlotsStatusBody = { dept: 'TST', date: DATE, version: 1, sessions: [{ session: 'morning', capacity: 10, booked: 3, takenNumbers: [1, 2, 4] }] };
  await d.store.transact((tx) => report.accept(tx, { v: 1, id: 'r-1', type: 'slots.status', ts: NOW.toISOString(), body: body as unknown as Request['body'] }, receiver));
  const visitNos: number[] = [];
  for (const patient of ['P-1', 'P-2', 'P-3']) {
    const id = (await d.hold(patient)).registration.registrationId;
    visitNos.push((await d.pay(id, `P-order-${patient}`)).notices.map((n) => (n.body as { visitNo: number }).visitNo)[0]!);
  }
  assert.equal(visitNos, [3, 5, 6]);
  const pool = await d.pool();
  assert.equal([pool.window, pool.booked, remaining(pool)], [3, 3, 4]);
});

test('a cancelled hold releases its slot, once', async () => {
  const d = await desk(1);
  const { registration } = await d.hold('P-1');
  assert.is(await codeOf(d.hold('P-2')), 'SOLD_OUT');
  assert.is(await codeOf(d.store.transact((tx) => d.registrations.cancel(tx, registration.registrationId, 'P-other', d.now()))), 'REGISTRATION_NOT_FOUND');
  const cancelled = await d.store.transact((tx) => d.registrations.cancel(tx, registration.registrationId, 'P-1', d.now()));
  assert.equal([cancelled.registration.status, cancelled.refund, cancelled.changed?.held], ['released', undefined, 0]);
  const twice = await d.store.transact((tx) => d.registrations.cancel(tx, registration.registrationId, 'P-1', d.now()));
  assert.equal([twice.registration.status, twice.changed], ['released', null]);
  assert.is((await d.pool()).held, 0);
  assert.is((await d.hold('P-2')).pool.held, 1);
  assert.ok((await auditKinds(d.store)).includes('registration.released'));
});

test('fifty holds at once on ten slots: exactly ten are held, the rest are SOLD_OUT', async () => {
  const d = await desk(10);
  const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => d.hold(`P-${i}`)));
  const held = results.filter((r) => r.status === 'fulfilled');
  const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as FerryError).code] : []));
  assert.is(held.length, 10);
  assert.equal([...new Set(codes)], ['SOLD_OUT']);
  assert.is(codes.length, 40);
  const pool = await d.pool();
  assert.equal([pool.held, remaining(pool)], [10, 0]);
  const ids = new Set(held.map((r) => (r as PromiseFulfilledResult<{ registration: Registration }>).value.registration.registrationId));
  assert.is(ids.size, 10, 'each hold has its own id');
});

test.run();
