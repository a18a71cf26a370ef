// slots.status (medical information receiver): a department's registration status for
// a day, as the hospital's own systems know it. Applied in version order; a stale
// update is ignored and audited. Capacity cut below the bookings cancels nothing: the
// pool is flagged over capacity and an operator is alerted.
import type { SlotsAppliedBody, SlotsStatusBody } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { DepartmentsRule } from '../../rules/types.js';
import type { Handler } from '../gap/handler.js';
import type { Tx } from '../store/store.js';
import { findSession } from '../registration/calendar.js';
import { loadPool, savePool, visitNoKey, windowNumbers, type SlotPool } from '../registration/pools.js';
import { regKey, type Registration } from '../registration/registrations.js';
import { key } from '../store/keyspace.js';

export function slotsStatus(rules: () => DepartmentsRule, log: Logger): Handler {
  return {
    type: 'slots.status',
    async accept(tx, request, device) {
      const body = request.body as unknown as SlotsStatusBody;
      const r = rules();
      if (!r.departments.has(body.dept)) throw new FerryError('UNKNOWN_DEPT', `No department ${body.dept}.`, '/body/dept');
      body.sessions.forEach((s, i) => {
        if (!findSession(r, s.session)) throw new FerryError('UNKNOWN_SESSION', `No session ${s.session}.`, `/body/sessions/${i}/session`);
      });
      const versionKey = key('slotsVersion', body.dept);
      const current = (await tx.get<number>(versionKey)) ?? 0;
      const answer = (applied: boolean, reason?: string) => ({
        type: 'slots.applied',
        body: { dept: body.dept, date: body.date, version: body.version, applied, ...(reason ? { reason } : {}) } satisfies SlotsAppliedBody,
      });
      if (body.version <= current) {
        tx.audit({ kind: 'slots.stale', dept: body.dept, date: body.date, version: body.version, current, device: device.id });
        return { kind: 'answer', answer: answer(false, `version ${body.version} is not newer than ${current}`), effects: [] };
      }
      tx.put(versionKey, body.version);
      const changed: SlotPool[] = [];
      for (const s of body.sessions) {
        const pool = await loadPool(tx, r, body.dept, body.date, s.session);
        pool.capacity = s.capacity;
        pool.window = s.booked;
        // Numbers the window used: never given by the gateway (docs/registration.md).
        if (s.takenNumbers) pool.takenNumbers = [...new Set(s.takenNumbers)].sort((a, b) => a - b);
        else delete pool.takenNumbers;
        pool.closed = s.closed ?? false;
        pool.version = body.version;
        savePool(tx, pool);
        changed.push(pool);
        await alertClashes(tx, pool, log);
        if (pool.overCapacity) {
          log.warn({ dept: pool.dept, date: pool.date, session: pool.session, capacity: pool.capacity, booked: pool.booked, window: pool.window }, 'ALERT: session over capacity; no booking was cancelled');
          tx.audit({ kind: 'slots.over_capacity', dept: pool.dept, date: pool.date, session: pool.session, capacity: pool.capacity, booked: pool.booked, window: pool.window });
        }
      }
      tx.audit({ kind: 'slots.applied', dept: body.dept, date: body.date, version: body.version, device: device.id });
      return { kind: 'answer', answer: answer(true), effects: changed.map((pool) => ({ kind: 'slots' as const, pool })) };
    },
  };
}

// A report can claim for the window a number the gateway already gave (a booking made
// at the window, reported after the gateway's): two patients may hold it. Nothing is
// changed, since the gateway's patient was told their number; an operator sorts it
// out, and a gateway range (departments.yaml gatewayNumbers) keeps it from happening.
async function alertClashes(tx: Tx, pool: SlotPool, log: Logger): Promise<void> {
  for (const visitNo of windowNumbers(pool)) {
    if (visitNo > pool.visitSeq) break;
    const registrationId = await tx.get<string>(visitNoKey(pool.dept, pool.date, pool.session, visitNo));
    if (registrationId === undefined) continue;
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (reg?.status !== 'booked' || reg.visitNo !== visitNo) continue;
    const clash = { dept: pool.dept, date: pool.date, session: pool.session, visitNo, registrationId };
    log.warn(clash, 'ALERT: the receiver reports a visit number the gateway gave; two patients may hold it');
    tx.audit({ kind: 'slots.visit_number_clash', ...clash });
  }
}
