// Slot pools: one per (department, date, session). Every change to a pool happens in a
// store transaction, and transactions run one at a time, so a check of `remaining`
// and the hold it allows can never interleave with another: no overbooking (invariant 3
// of docs/design.md) under any concurrency.
import type { DepartmentsRule } from '../../rules/types.js';
import { assert } from '../../common/errors.js';
import type { Tx } from '../store/store.js';
import { key } from '../store/keyspace.js';

export interface SlotPool {
  dept: string;
  date: string;
  session: string;
  capacity: number;
  booked: number; // bookings made through the gateway
  window: number; // bookings made at the window or elsewhere, as the receiver reports
  held: number; // live holds, paid for or not yet
  closed: boolean;
  version: number; // the receiver's version last applied (0: defaults from the rules)
  visitSeq: number; // the last visit number given in this session
  // Visit numbers the receiver reported taken outside the gateway; when a report gives
  // only a count, the window's numbers are 1..window.
  takenNumbers?: number[];
  overCapacity: boolean; // capacity was cut below the bookings: an operator must act
}

export const poolKey = (dept: string, date: string, session: string) => key('pool', dept, date, session);

export async function loadPool(tx: Tx, rules: DepartmentsRule, dept: string, date: string, session: string): Promise<SlotPool> {
  const stored = await tx.get<SlotPool>(poolKey(dept, date, session));
  if (stored) return stored;
  const department = rules.departments.get(dept);
  assert(department !== undefined, `department ${dept} is known`);
  return {
    dept, date, session, capacity: department.capacity[session] ?? 0,
    booked: 0, window: 0, held: 0, closed: false, version: 0, visitSeq: 0, overCapacity: false,
  };
}

// Which registration the gateway gave a visit number to: lets a receiver's report that
// claims the number for the window be told to an operator.
export const visitNoKey = (dept: string, date: string, session: string, visitNo: number) =>
  key('visitNo', dept, date, session, String(visitNo).padStart(6, '0'));

// The numbers a receiver's report says the window holds: listed, or 1..window.
export function windowNumbers(pool: SlotPool): number[] {
  return pool.takenNumbers ?? Array.from({ length: pool.window }, (_, i) => i + 1);
}

// The next visit number the gateway gives: after every number it gave before, not below
// the gateway's own range (departments.yaml gatewayNumbers), and never one the receiver
// reported taken. Numbers only grow, so a number once given is never given again.
export function nextVisitNumber(pool: SlotPool, rules: DepartmentsRule): number {
  const from = rules.departments.get(pool.dept)?.gatewayNumbers[pool.session] ?? 1;
  const taken = new Set(windowNumbers(pool));
  let n = Math.max(pool.visitSeq + 1, from);
  while (taken.has(n)) n += 1;
  return n;
}

export function remaining(pool: SlotPool): number {
  return Math.max(0, pool.capacity - pool.booked - pool.window - pool.held);
}

// Writes a pool after asserting what must always hold of it.
export function savePool(tx: Tx, pool: SlotPool): void {
  assert(pool.held >= 0, `pool ${pool.dept}/${pool.date}/${pool.session} has no negative holds`);
  assert(pool.booked >= 0, `pool ${pool.dept}/${pool.date}/${pool.session} has no negative bookings`);
  // Every booking took a visit number; a cancellation returns the slot, not the number.
  assert(pool.visitSeq >= pool.booked, `pool ${pool.dept}/${pool.date}/${pool.session} gave a visit number to every booking`);
  pool.overCapacity = pool.booked + pool.window > pool.capacity;
  tx.put(poolKey(pool.dept, pool.date, pool.session), pool);
}
