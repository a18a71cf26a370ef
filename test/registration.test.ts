// Registration: holds, bookings with visit numbers, expiry, payment after a
// lapse, cancellation with refunds, receiver updates, and the retained slot snapshots
// that kiosks read, checked against the store after every step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { registrationRules, tomorrow } from './helpers/registration.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import { ReceiverSim } from '../sim/devices/receiver.js';
import { isErrorReply, type DeviceClient } from '../devices/client.js';
import type { Reply, SlotsSnapshot } from '../devices/protocol.js';
import type { SlotPool } from '../runtime/inner/registration/pools.js';
import { HospitalDay } from '../runtime/common/hospital-day.js';
import type { Registration } from '../runtime/inner/registration/registrations.js';

let gw: TestGateway;
let rulesDir: string;
let kiosk: KioskSim;
let desk: KioskSim;
let receiver: ReceiverSim;
let watcher: DeviceClient;
const snapshots = new Map<string, SlotsSnapshot>();
const DATE = tomorrow();

test.before(async () => {
  ({ rulesDir } = registrationRules({ capacity: { morning: 3, afternoon: 2 }, holdTtlSeconds: 2, paymentGraceSeconds: 1 }));
  // Paediatrics keeps 1..20 of its morning numbers for the window.
  const file = path.join(rulesDir, 'departments.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  doc.setIn(['departments', 'PED', 'gatewayNumbers'], doc.createNode({ morning: 21 }));
  fs.writeFileSync(file, doc.toString());
  gw = await startTestGateway({ rulesDir, qrDelayMs: 150 });
  kiosk = new KioskSim(await gw.device('kiosk-01'));
  desk = new KioskSim(await gw.device('desk-01'));
  receiver = new ReceiverSim(await gw.device('receiver-01'));
  watcher = await gw.device('kiosk-02');
  watcher.on('topic', (topic: string, payload: Buffer) => {
    const snap = JSON.parse(payload.toString()) as SlotsSnapshot;
    snapshots.set(topic, snap);
  });
  await watcher.subscribe('slots/#');
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

async function pool(dept: string, session: string, date = DATE): Promise<SlotPool | undefined> {
  await gw.inner.store.durable();
  return gw.inner.store.get<SlotPool>(`pool!${dept}!${date}!${session}`);
}

// The retained snapshot a kiosk sees equals what the store says.
async function snapshotMatchesStore(dept = 'TST', date = DATE): Promise<void> {
  await gw.inner.slots.settled();
  const expected = await gw.inner.slots.snapshot({ dept, date });
  const strip = (s: SlotsSnapshot | undefined) => s?.sessions;
  await waitFor(() => JSON.stringify(strip(snapshots.get(`slots/${dept}/${date}`))) === JSON.stringify(strip(expected)), 3000,
    `the retained slots/${dept}/${date} to match the store: ${JSON.stringify(expected.sessions)}`);
  for (const s of snapshots.get(`slots/${dept}/${date}`)!.sessions) assert.ok(s.remaining >= 0, 'never a negative remaining count');
}

const reg = (patientId: string, session = 'morning', extra: Record<string, string> = {}) => ({ dept: 'TST', session, date: DATE, patientId, ...extra });

test('a hold paid with a wallet code becomes a booking with the next visit number, and the snapshot follows', async () => {
  const first = await kiosk.registerAndPay(reg('P-R1'), 'code', { bookedWaitMs: 5000 });
  assert.ok(!isErrorReply(first.held), JSON.stringify(first.held.body));
  assert.is((first.held.body as { fee: number }).fee, 1500);
  assert.ok(first.booked, 'registration.booked arrived');
  assert.is(first.booked!.body.visitNo, 1);
  const second = await desk.registerAndPay(reg('P-R2'), 'code', { bookedWaitMs: 5000 });
  assert.is(second.booked!.body.visitNo, 2, 'visit numbers in order within the session');
  const p = await pool('TST', 'morning');
  assert.equal([p!.booked, p!.held, p!.capacity], [2, 0, 3]);
  await snapshotMatchesStore();
});

test('the expert level costs its own fee', async () => {
  const held = await kiosk.register(reg('P-R3', 'afternoon', { level: 'expert' }));
  assert.is((held.body as { fee: number }).fee, 4000);
  await kiosk.cancelRegistration((held.body as { registrationId: string }).registrationId, 'P-R3');
  await snapshotMatchesStore();
});

test('registration refusals name the reason: unknown department, session or level, a past session, too far ahead', async () => {
  const code = async (body: Record<string, string>) => ((await kiosk.register(body as never)).body as { code?: string }).code;
  assert.is(await code({ dept: 'XYZ', session: 'morning', patientId: 'P-1' }), 'UNKNOWN_DEPT');
  assert.is(await code({ dept: 'TST', session: 'night', date: DATE, patientId: 'P-1' }), 'UNKNOWN_SESSION');
  assert.is(await code({ dept: 'TST', session: 'morning', date: DATE, level: 'chief', patientId: 'P-1' }), 'UNKNOWN_LEVEL');
  assert.is(await code({ dept: 'TST', session: 'morning', date: '2020-01-01', patientId: 'P-1' }), 'PAST_SESSION');
  assert.is(await code({ dept: 'TST', session: 'morning', date: '2999-01-01', patientId: 'P-1' }), 'NOT_BOOKABLE_YET');
});

test('a session with no slot left is SOLD_OUT, and a hold that expires gives its slot back', async () => {
  const held = await kiosk.register(reg('P-R4'));
  const registrationId = (held.body as { registrationId: string }).registrationId;
  assert.is(((await kiosk.register(reg('P-R5'))).body as { code: string }).code, 'SOLD_OUT');
  await snapshotMatchesStore();
  await waitFor(async () => (await pool('TST', 'morning'))!.held === 0, 6000, 'the hold to expire');
  const expired = await gw.inner.store.get<Registration>(`reg!${registrationId}`);
  assert.is(expired!.status, 'expired');
  const paying = await kiosk.payBill({ registrationId, amount: 1500, method: 'code' }, { waitFinalMs: 0 });
  assert.is((paying.reply.body as { code: string }).code, 'HOLD_EXPIRED', 'an expired hold cannot be paid');
  await snapshotMatchesStore();
  const again = await kiosk.register(reg('P-R5'));
  assert.ok(!isErrorReply(again), 'the slot came back');
  await kiosk.cancelRegistration((again.body as { registrationId: string }).registrationId, 'P-R5');
});

test('a scan-to-pay that completes after the hold lapsed books a free slot', async () => {
  gw.sim.setQrDelayMs(4500);
  const held = await kiosk.register(reg('P-R6', 'afternoon'));
  const registrationId = (held.body as { registrationId: string }).registrationId;
  const outcome = await kiosk.payBill({ registrationId, amount: 1500, method: 'qr' }, { waitFinalMs: 15_000, recheckMs: 500 });
  assert.is((outcome.reply.body as { status: string }).status, 'succeeded');
  await waitFor(async () => (await gw.inner.store.get<Registration>(`reg!${registrationId}`))!.status === 'booked', 5000, 'the booking');
  assert.is((await pool('TST', 'afternoon'))!.booked, 1);
  await snapshotMatchesStore();
});

test('a scan-to-pay that completes after the hold lapsed and the slot was taken is refunded', async () => {
  const held = await kiosk.register(reg('P-R7', 'afternoon'));
  const registrationId = (held.body as { registrationId: string }).registrationId;
  const refunded = kiosk.client.waitFor((m: Reply) => m.type === 'registration.refunded' && (m.body as { registrationId: string }).registrationId === registrationId, 20_000);
  const paying = kiosk.payBill({ registrationId, amount: 1500, method: 'qr' }, { waitFinalMs: 15_000, recheckMs: 500 });
  // Once the hold has lapsed (2 s + 1 s grace), another patient takes the last slot.
  await waitFor(async () => (await gw.inner.store.get<Registration>(`reg!${registrationId}`))!.status === 'lapsed', 8000, 'the lapse');
  const other = await desk.registerAndPay(reg('P-R8', 'afternoon'), 'code', { bookedWaitMs: 5000 });
  assert.ok(other.booked, 'the other patient booked the freed slot');
  assert.is(((await paying).reply.body as { status: string }).status, 'succeeded');
  const notice = await refunded;
  assert.is((notice.body as { status: string }).status, 'succeeded');
  const r = await gw.inner.store.get<Registration>(`reg!${registrationId}`);
  assert.is(r!.status, 'refunded');
  assert.ok(gw.sim.refunds().some((f) => f.refundId === r!.refundId && f.amount === 1500), 'the refund reached the payment server');
  const p = await pool('TST', 'afternoon');
  assert.ok(p!.booked + p!.held <= p!.capacity, 'never overbooked');
  gw.sim.setQrDelayMs(150);
  await snapshotMatchesStore();
});

test('cancelling a paid booking twice refunds once and returns one slot', async () => {
  const before = (await pool('TST', 'morning'))!;
  const booked = await kiosk.registerAndPay(reg('P-R9'), 'code', { bookedWaitMs: 5000 });
  const registrationId = booked.booked!.body.registrationId;
  const first = await kiosk.cancelRegistration(registrationId, 'P-R9');
  assert.is((first.body as { status: string }).status, 'refunding');
  const second = await desk.cancelRegistration(registrationId, 'P-R9');
  assert.ok(!isErrorReply(second), 'a second cancel is answered, not refused');
  await waitFor(async () => (await gw.inner.store.get<Registration>(`reg!${registrationId}`))!.status === 'refunded', 5000, 'the refund');
  const refunds = gw.sim.refunds().filter((f) => f.orderId === (booked.payment!.reply.body as { orderId: string }).orderId);
  assert.is(refunds.length, 1, 'one refund');
  const after = (await pool('TST', 'morning'))!;
  assert.is(after.booked, before.booked, 'exactly one slot came back');
  await snapshotMatchesStore();
});

test('a resent cancel answers the current state: refunded once the refund is done', async () => {
  const booked = await kiosk.registerAndPay({ dept: 'PED', session: 'afternoon', date: DATE, patientId: 'P-R12' }, 'code', { bookedWaitMs: 5000 });
  assert.ok(booked.booked, JSON.stringify(booked.held.body));
  const registrationId = booked.booked!.body.registrationId;
  const id = 'cancel-P-R12';
  const first = await kiosk.cancelRegistration(registrationId, 'P-R12', { id });
  assert.is((first.body as { status: string }).status, 'refunding');
  const refundId = (first.body as { refundId?: string }).refundId;
  assert.ok(refundId, 'the first answer names the refund');
  await waitFor(async () => (await gw.inner.store.get<Registration>(`reg!${registrationId}`))!.status === 'refunded', 5000, 'the refund');
  const again = await kiosk.cancelRegistration(registrationId, 'P-R12', { id });
  assert.equal(again.body, { registrationId, status: 'refunded', refundId });
  assert.is(gw.sim.refunds().filter((f) => f.refundId === refundId).length, 1, 'the resend made no second refund');
});

test('a cancel for another patient is refused as not found', async () => {
  const held = await kiosk.register(reg('P-R10'));
  const registrationId = (held.body as { registrationId: string }).registrationId;
  assert.is(((await kiosk.cancelRegistration(registrationId, 'P-OTHER')).body as { code: string }).code, 'REGISTRATION_NOT_FOUND');
  await kiosk.cancelRegistration(registrationId, 'P-R10');
});

test('receiver updates apply in version order; a stale one is ignored and audited', async () => {
  const applied = await receiver.report('SUR', DATE, [{ session: 'morning', capacity: 12, booked: 4 }], { version: 10 });
  assert.is((applied.body as { applied: boolean }).applied, true);
  const newer = await receiver.report('SUR', DATE, [{ session: 'morning', capacity: 14, booked: 5 }], { version: 11 });
  assert.is((newer.body as { applied: boolean }).applied, true);
  const stale = await receiver.report('SUR', DATE, [{ session: 'morning', capacity: 1, booked: 0 }], { version: 10 });
  assert.is((stale.body as { applied: boolean }).applied, false);
  const p = await pool('SUR', 'morning');
  assert.equal([p!.capacity, p!.window, p!.version], [14, 5, 11]);
  const audit = await gw.inner.store.list<{ event: { kind: string } }>('audit!', { reverse: true, limit: 30 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'slots.stale'));
  await snapshotMatchesStore('SUR');
});

test('a receiver closing a session makes registration CLOSED', async () => {
  await receiver.report('SUR', DATE, [{ session: 'afternoon', capacity: 10, booked: 0, closed: true }]);
  assert.is(((await kiosk.register({ dept: 'SUR', session: 'afternoon', date: DATE, patientId: 'P-1' })).body as { code: string }).code, 'CLOSED');
  await snapshotMatchesStore('SUR');
});

test('a capacity cut below the bookings raises an alert and loses no booking', async () => {
  const p0 = (await pool('TST', 'morning'))!;
  assert.ok(p0.booked >= 2);
  const applied = await receiver.report('TST', DATE, [{ session: 'morning', capacity: 1, booked: 0 }]);
  assert.is((applied.body as { applied?: boolean }).applied, true, JSON.stringify(applied.body));
  const p = (await pool('TST', 'morning'))!;
  assert.is(p.booked, p0.booked, 'no booking cancelled');
  assert.is(p.overCapacity, true, JSON.stringify(p));
  const audit = await gw.inner.store.list<{ event: { kind: string } }>('audit!', { reverse: true, limit: 10 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'slots.over_capacity'), 'an over-capacity alert');
  assert.is(((await kiosk.register(reg('P-R11'))).body as { code: string }).code, 'SOLD_OUT');
  await snapshotMatchesStore();
});

test('the visit numbers the window used are never given at a kiosk, whether reported as a count or as numbers', async () => {
  await receiver.report('ENT', DATE, [{ session: 'morning', capacity: 10, booked: 3 }]);
  const visitNo = async (patientId: string, dept = 'ENT') => {
    const outcome = await kiosk.registerAndPay({ dept, session: 'morning', date: DATE, patientId }, 'code', { bookedWaitMs: 5000 });
    assert.ok(outcome.booked, JSON.stringify(outcome.held.body));
    return outcome.booked!.body.visitNo;
  };
  const first = await visitNo('P-V1');
  assert.is(first, 4, 'the window numbers from 1: its 3 bookings hold 1..3');
  // A report after the gateway booked: the window holds 1..3 and 6; the gateway skips 6.
  await receiver.report('ENT', DATE, [{ session: 'morning', capacity: 10, booked: 4, takenNumbers: [1, 2, 3, 6] }]);
  const more = [await visitNo('P-V2'), await visitNo('P-V3'), await visitNo('P-V4')];
  assert.equal(more, [5, 7, 8]);
  for (const n of [first, ...more]) assert.not.ok([1, 2, 3, 6].includes(n), `visit number ${n} is not the window's`);
  const p = (await pool('ENT', 'morning'))!;
  assert.ok(p.booked + p.window + p.held <= p.capacity, 'never overbooked');
  assert.is(await visitNo('P-V5', 'PED'), 21, 'a department with its own range numbers from its start');
  await snapshotMatchesStore('ENT');
});

test('a report that claims a visit number the gateway already gave raises an alert and changes no booking', async () => {
  const before = (await pool('ENT', 'morning'))!;
  assert.ok(before.visitSeq >= 5, JSON.stringify(before));
  await receiver.report('ENT', DATE, [{ session: 'morning', capacity: 10, booked: 5, takenNumbers: [1, 2, 3, 5, 6] }]);
  const audit = await gw.inner.store.list<{ event: { kind: string; visitNo?: number; dept?: string } }>('audit!', { reverse: true, limit: 20 });
  const clashes = audit.filter(([, e]) => e.event.kind === 'slots.visit_number_clash' && e.event.dept === 'ENT').map(([, e]) => e.event.visitNo);
  assert.equal(clashes, [5], 'only the number the gateway gave and the window claims');
  assert.is((await pool('ENT', 'morning'))!.booked, before.booked, 'no booking cancelled');
});

test('the hospital day is counted in its time zone, daylight saving time included', () => {
  const beijing = new HospitalDay('Asia/Shanghai');
  assert.is(beijing.dayOf('2026-11-25T23:00:00Z'), '2026-11-26');
  assert.equal(beijing.rangeOf('2026-11-26'), { startMs: Date.parse('2026-11-25T16:00:00Z'), endMs: Date.parse('2026-11-26T16:00:00Z') });
  assert.is(beijing.at('2026-11-26', 17 * 60 + 30), Date.parse('2026-11-26T09:30:00Z'));
  const berlin = new HospitalDay('Europe/Berlin');
  const spring = berlin.rangeOf('2026-03-29');
  const autumn = berlin.rangeOf('2026-10-25');
  assert.is((spring.endMs - spring.startMs) / 3_600_000, 23);
  assert.is((autumn.endMs - autumn.startMs) / 3_600_000, 25);
  assert.is(berlin.at('2026-03-29', 12 * 60), Date.parse('2026-03-29T10:00:00Z'));
  assert.is(berlin.dayOf(spring.startMs - 1), '2026-03-28');
});

test.run();
