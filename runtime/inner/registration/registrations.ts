// Registrations: a hold on a slot, paid for, becomes a booking with a visit number.
//
//   held ──pay──► paying ──succeeded──► booked ──cancel──► refunding ─► refunded
//    │              │  └──failed──► held (or expired, past its time)
//    │              └──grace over──► lapsed ──succeeded──► booked (a slot is free)
//    │                                  │                 └─► refunding (none is)
//    ├──cancel──► released              └──failed──► expired
//    └──time────► expired
//   refunding ──declined──► refund_failed ──operator retry──► refunding (same refund id)
//
// A hold counts against its pool from `held` until it is booked, released, expired or
// lapsed; a booking counts until it is cancelled. A paid registration is never dropped:
// it is booked, or refunded (invariant 3 of docs/design.md).
import type { DepartmentsRule } from '../../rules/types.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import { assert, FerryError } from '../../common/errors.js';
import type { Tx } from '../store/store.js';
import { nextId } from '../ids.js';
import type { Notice } from '../payments/payable.js';
import { addDays, findSession, localDate, sessionEndMs } from './calendar.js';
import { loadPool, nextVisitNumber, remaining, savePool, visitNoKey, type SlotPool } from './pools.js';
import { key as storeKey } from '../store/keyspace.js';

export type RegistrationStatus =
  | 'held' | 'paying' | 'booked' | 'released' | 'expired' | 'lapsed' | 'refunding' | 'refunded' | 'refund_failed';

export interface Registration {
  registrationId: string;
  dept: string;
  date: string;
  session: string;
  level: string;
  fee: number;
  currency: 'CNY';
  patientId: string;
  device: string;
  status: RegistrationStatus;
  expiresAt: string;
  graceUntil?: string;
  orderId?: string;
  visitNo?: number;
  refundId?: string;
  createdAt: string;
  updatedAt: string;
}

// Something to tell a device: written to its outbox in the transaction that decided it.
export type { Notice };

export const regKey = (id: string) => storeKey('reg', id);
// A patient's registrations, in id (so time) order: what registration.query lists.
export const regsOfKey = (patientId: string, id: string) => storeKey('regsOf', patientId, id);
// Expiry index, in time order: the sweeper reads it from the start up to now.
export const expiryKey = (atMs: number, id: string) => storeKey('regExpiry', String(atMs).padStart(15, '0'), id);

// Statuses in which a registration holds a slot of its pool.
const HOLDS_SLOT: ReadonlySet<RegistrationStatus> = new Set(['held', 'paying']);

export interface HoldRequest {
  dept: string;
  session: string;
  date?: string;
  level?: string;
  patientId: string;
}

export class Registrations {
  // The hospital's day is gateway.yaml's, fixed for the process; the departments reload.
  constructor(private readonly rules: () => DepartmentsRule, private readonly day: HospitalDay) {}

  async hold(tx: Tx, device: string, req: HoldRequest, now: Date): Promise<{ registration: Registration; pool: SlotPool }> {
    const rules = this.rules();
    const department = rules.departments.get(req.dept);
    if (!department) throw new FerryError('UNKNOWN_DEPT', `No department ${req.dept}.`, '/body/dept');
    const session = findSession(rules, req.session);
    if (!session) throw new FerryError('UNKNOWN_SESSION', `No session ${req.session}; sessions are ${rules.sessions.map((s) => s.name).join(', ')}.`, '/body/session');
    const level = req.level ?? 'regular';
    const fee = department.fees[level];
    if (fee === undefined) throw new FerryError('UNKNOWN_LEVEL', `${req.dept} has no ${level} level; levels are ${Object.keys(department.fees).join(', ')}.`, '/body/level');
    const today = localDate(now.getTime(), this.day);
    const date = req.date ?? today;
    if (date < today || now.getTime() >= sessionEndMs(date, session, this.day)) {
      throw new FerryError('PAST_SESSION', `The ${session.name} session of ${date} is over.`, req.date ? '/body/date' : '/body/session');
    }
    if (date > addDays(today, rules.bookAheadDays)) {
      throw new FerryError('NOT_BOOKABLE_YET', `Registration opens at most ${rules.bookAheadDays} day(s) ahead.`, '/body/date');
    }
    const pool = await loadPool(tx, rules, req.dept, date, session.name);
    if (pool.closed) throw new FerryError('CLOSED', `The ${session.name} session of ${req.dept} on ${date} is closed.`);
    if (remaining(pool) <= 0) throw new FerryError('SOLD_OUT', `No slot left in the ${session.name} session of ${req.dept} on ${date}.`);
    pool.held += 1;
    savePool(tx, pool);
    const expiresMs = now.getTime() + rules.holdTtlSeconds * 1000;
    const registration: Registration = {
      registrationId: await nextId(tx, 'R', now), dept: req.dept, date, session: session.name, level, fee, currency: 'CNY',
      patientId: req.patientId, device, status: 'held', expiresAt: new Date(expiresMs).toISOString(),
      createdAt: now.toISOString(), updatedAt: now.toISOString(),
    };
    tx.put(regKey(registration.registrationId), registration);
    tx.put(regsOfKey(req.patientId, registration.registrationId), registration.registrationId);
    tx.put(expiryKey(expiresMs, registration.registrationId), registration.registrationId);
    tx.audit({ kind: 'registration.held', registrationId: registration.registrationId, dept: req.dept, date, session: session.name, device });
    return { registration, pool };
  }

  // The checks of payment.request for a hold; the caller opens the order.
  async payable(tx: Tx, registrationId: string, amount: number, now: Date): Promise<Registration> {
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (!reg) throw new FerryError('REGISTRATION_NOT_FOUND', `No registration ${registrationId}.`, '/body/registrationId');
    if (reg.status === 'expired') throw new FerryError('HOLD_EXPIRED', `The hold ${registrationId} expired at ${reg.expiresAt}; register again.`, '/body/registrationId');
    if (reg.status !== 'held') throw new FerryError('REGISTRATION_NOT_PAYABLE', `Registration ${registrationId} is ${reg.status}.`, '/body/registrationId');
    if (now.getTime() >= Date.parse(reg.expiresAt)) throw new FerryError('HOLD_EXPIRED', `The hold ${registrationId} expired at ${reg.expiresAt}; register again.`, '/body/registrationId');
    if (amount !== reg.fee) throw new FerryError('AMOUNT_MISMATCH', `Registration ${registrationId} costs ${reg.fee} fen, not ${amount}.`, '/body/amount');
    return reg;
  }

  // The order for the hold is journaled: the hold now waits for the payment, past its
  // expiry if need be, but not beyond the grace period.
  markPaying(tx: Tx, reg: Registration, orderId: string, now: Date): void {
    const graceMs = Date.parse(reg.expiresAt) + this.rules().paymentGraceSeconds * 1000;
    tx.del(expiryKey(Date.parse(reg.expiresAt), reg.registrationId));
    tx.put(expiryKey(graceMs, reg.registrationId), reg.registrationId);
    this.save(tx, reg, { status: 'paying', orderId, graceUntil: new Date(graceMs).toISOString() }, now);
  }

  // A payment for a registration ended. Returns what to tell the patient's device, and
  // a refund to make when the money came but no slot is left.
  async settle(tx: Tx, registrationId: string, orderId: string, to: 'succeeded' | 'failed', now: Date): Promise<{ notices: Notice[]; refund?: { amount: number; reason: string } ; changed: SlotPool | null }> {
    const reg = await tx.get<Registration>(regKey(registrationId));
    assert(reg !== undefined, `registration ${registrationId} of order ${orderId} exists`);
    if (reg.orderId !== orderId) {
      tx.audit({ kind: 'registration.settle_other_order', registrationId, orderId, current: reg.orderId ?? 'none' });
      return { notices: [], changed: null, ...(to === 'succeeded' ? { refund: { amount: reg.fee, reason: 'payment for a registration that has another payment' } } : {}) };
    }
    const pool = await loadPool(tx, this.rules(), reg.dept, reg.date, reg.session);
    if (to === 'failed') return { notices: [], changed: this.paymentFailed(tx, reg, pool, now) };
    if (reg.status === 'paying') {
      pool.held -= 1;
      return { notices: [this.book(tx, reg, pool, now)], changed: pool };
    }
    if (reg.status === 'lapsed') {
      if (!pool.closed && remaining(pool) > 0) {
        tx.audit({ kind: 'registration.booked_after_lapse', registrationId, orderId });
        return { notices: [this.book(tx, reg, pool, now)], changed: pool };
      }
      tx.audit({ kind: 'registration.no_slot_after_payment', registrationId, orderId, fee: reg.fee });
      return { notices: [], changed: null, refund: { amount: reg.fee, reason: 'paid after the hold lapsed; no slot left' } };
    }
    tx.audit({ kind: 'registration.settle_unexpected', registrationId, orderId, status: reg.status });
    return { notices: [], changed: null };
  }

  private paymentFailed(tx: Tx, reg: Registration, pool: SlotPool, now: Date): SlotPool | null {
    if (reg.status === 'lapsed') {
      this.save(tx, reg, { status: 'expired' }, now);
      return null;
    }
    if (reg.status !== 'paying') return null;
    tx.del(expiryKey(Date.parse(reg.graceUntil!), reg.registrationId));
    const expiresMs = Date.parse(reg.expiresAt);
    if (now.getTime() < expiresMs) {
      // The patient may try again, with another method, while the hold lasts.
      tx.put(expiryKey(expiresMs, reg.registrationId), reg.registrationId);
      this.save(tx, reg, { status: 'held' }, now, ['orderId', 'graceUntil']);
      return null;
    }
    pool.held -= 1;
    savePool(tx, pool);
    this.save(tx, reg, { status: 'expired' }, now);
    return pool;
  }

  private book(tx: Tx, reg: Registration, pool: SlotPool, now: Date): Notice {
    pool.booked += 1;
    pool.visitSeq = nextVisitNumber(pool, this.rules());
    savePool(tx, pool);
    if (reg.graceUntil) tx.del(expiryKey(Date.parse(reg.graceUntil), reg.registrationId));
    tx.put(visitNoKey(reg.dept, reg.date, reg.session, pool.visitSeq), reg.registrationId);
    const booked = this.save(tx, reg, { status: 'booked', visitNo: pool.visitSeq }, now);
    tx.audit({ kind: 'registration.booked', registrationId: reg.registrationId, visitNo: pool.visitSeq, dept: reg.dept, date: reg.date, session: reg.session });
    return {
      device: reg.device, type: 'registration.booked',
      body: { registrationId: reg.registrationId, orderId: reg.orderId, dept: reg.dept, date: reg.date, session: reg.session, visitNo: booked.visitNo },
    };
  }

  // registration.cancel. The slot returns exactly once: only a status that holds or
  // books a slot gives it back, and the new status does neither.
  async cancel(tx: Tx, registrationId: string, patientId: string, now: Date): Promise<{ registration: Registration; refund?: { amount: number; reason: string }; changed: SlotPool | null }> {
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (!reg || reg.patientId !== patientId) throw new FerryError('REGISTRATION_NOT_FOUND', `No registration ${registrationId} for this patient.`, '/body/registrationId');
    if (reg.status === 'paying') throw new FerryError('PAYMENT_IN_FLIGHT', `A payment for ${registrationId} is under way; cancel once it has ended.`, '/body/registrationId');
    if (reg.status !== 'held' && reg.status !== 'booked') return { registration: reg, changed: null };
    const pool = await loadPool(tx, this.rules(), reg.dept, reg.date, reg.session);
    if (reg.status === 'held') {
      pool.held -= 1;
      savePool(tx, pool);
      tx.del(expiryKey(Date.parse(reg.expiresAt), reg.registrationId));
      tx.audit({ kind: 'registration.released', registrationId });
      return { registration: this.save(tx, reg, { status: 'released' }, now), changed: pool };
    }
    pool.booked -= 1;
    savePool(tx, pool);
    tx.audit({ kind: 'registration.cancelled', registrationId, orderId: reg.orderId ?? 'none' });
    return { registration: this.save(tx, reg, { status: 'refunding' }, now), refund: { amount: reg.fee, reason: 'registration cancelled' }, changed: pool };
  }

  // A refund was asked for this registration: remember which.
  async refunding(tx: Tx, registrationId: string, refundId: string, now: Date): Promise<void> {
    const reg = await tx.get<Registration>(regKey(registrationId));
    assert(reg !== undefined, `registration ${registrationId} exists`);
    this.save(tx, reg, { status: 'refunding', refundId }, now);
  }

  async refunded(tx: Tx, registrationId: string, refundId: string, ok: boolean, amount: number, reason: string | undefined, now: Date): Promise<Notice | null> {
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (!reg || reg.refundId !== refundId) return null;
    this.save(tx, reg, { status: ok ? 'refunded' : 'refund_failed' }, now);
    return { device: reg.device, type: 'registration.refunded', body: { registrationId, refundId, amount, status: ok ? 'succeeded' : 'failed', ...(reason ? { reason } : {}) } };
  }

  // The sweeper found this registration's deadline passed.
  async expire(tx: Tx, registrationId: string, atMs: number, now: Date): Promise<SlotPool | null> {
    tx.del(expiryKey(atMs, registrationId));
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (!reg || !HOLDS_SLOT.has(reg.status)) return null;
    const pool = await loadPool(tx, this.rules(), reg.dept, reg.date, reg.session);
    pool.held -= 1;
    savePool(tx, pool);
    if (reg.status === 'held') {
      this.save(tx, reg, { status: 'expired' }, now);
      tx.audit({ kind: 'registration.expired', registrationId });
    } else {
      // Its payment is still open after the grace period: the slot goes back, and the
      // payment, if it ever succeeds, books a free slot or is refunded.
      this.save(tx, reg, { status: 'lapsed' }, now);
      tx.audit({ kind: 'registration.lapsed', registrationId, orderId: reg.orderId ?? 'none' });
    }
    return pool;
  }

  private save(tx: Tx, reg: Registration, change: Partial<Registration>, now: Date, drop: Array<keyof Registration> = []): Registration {
    const next: Registration = { ...reg, ...change, updatedAt: now.toISOString() };
    for (const key of drop) delete next[key];
    tx.put(regKey(reg.registrationId), next);
    Object.assign(reg, next);
    return next;
  }
}
