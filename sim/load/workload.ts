// What load devices ask: a mix of bill queries, payments of bills a billing desk created
// beforehand, and registration holds in departments with room for them.
import { randomBytes } from 'node:crypto';
import { assert } from '../../runtime/common/errors.js';
import type { DeviceClient } from '../../devices/client.js';
import { addDays, HospitalDay, TIME_ZONE_DEFAULT } from '../../runtime/common/hospital-day.js';

export const OPS = ['query', 'pay', 'register'] as const;
export type Op = (typeof OPS)[number];
export type Mix = Record<Op, number>;

// bill.create requests in flight while bills are prepared.
export const BILLS_IN_FLIGHT_MAX = 100;
// A load run prepares at most this many bills (one per payment it makes).
export const BILLS_MAX = 1_000_000;
// A bill query with no payment in the mix still finds this many bills to list.
const QUERY_ONLY_BILLS = 100;
// The wallet code the payment simulator accepts (one ending in 0000 is declined).
export const ACCEPTED_AUTH_CODE = '123456';

const BILL_ITEMS = [{ code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 }];
const BILL_TOTAL = 3500;

// "pay=2,query=1,register=1"; a bare name weighs 1.
export function parseMix(text: string): Mix {
  const mix: Mix = { query: 0, pay: 0, register: 0 };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, weight = '1'] = part.split('=');
    if (!OPS.includes(name as Op)) throw new Error(`unknown operation ${JSON.stringify(name)} in the mix; expected ${OPS.join(', ')}`);
    const w = Number(weight);
    if (!Number.isSafeInteger(w) || w < 0 || w > 1000) throw new Error(`weight of ${name} must be an integer from 0 to 1000`);
    mix[name as Op] = w;
  }
  if (OPS.every((op) => mix[op] === 0)) throw new Error('the mix names no operation');
  return mix;
}

export function formatMix(mix: Mix): string {
  return OPS.filter((op) => mix[op] > 0).map((op) => `${op}=${mix[op]}`).join(',');
}

// The sequence of operations of a run, in exactly the mix's proportions (smooth
// weighted round robin: no long runs of one operation).
export function planOps(mix: Mix, count: number): Op[] {
  const total = OPS.reduce((sum, op) => sum + mix[op], 0);
  assert(total > 0, 'a mix with some weight');
  const current: Mix = { query: 0, pay: 0, register: 0 };
  const out: Op[] = [];
  for (let i = 0; i < count; i += 1) {
    let best: Op = OPS[0];
    for (const op of OPS) {
      current[op] += mix[op];
      if (current[op] > current[best]) best = op;
    }
    current[best] -= total;
    out.push(best);
  }
  return out;
}

export interface PreparedBill {
  billId: string;
  patientId: string;
  total: number;
}

// A run's ids: unique across runs against the same gateway, short, and never a run of
// digits that the gateway's card guard could take for a card number.
export function runTag(): string {
  return randomBytes(6).toString('base64url').replace(/[^A-Za-z]/g, 'x').slice(0, 6);
}

export async function prepareBills(desk: DeviceClient, count: number, tag: string, timeoutMs: number): Promise<PreparedBill[]> {
  assert(count <= BILLS_MAX, `at most ${BILLS_MAX} bills`);
  const bills: PreparedBill[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(BILLS_IN_FLIGHT_MAX, count) }, async () => {
    while (next < count) {
      const i = next++;
      const patientId = `LP-${tag}-${i.toString(36)}`;
      const reply = await desk.request('bill.create',
        { patientId, reference: `LOAD-${tag}-${i.toString(36)}`, items: BILL_ITEMS, total: BILL_TOTAL, currency: 'CNY' }, { timeoutMs });
      const body = reply.body as { billId?: string; code?: string; message?: string };
      if (reply.type !== 'bill.created' || !body.billId) throw new Error(`bill.create refused: ${body.code ?? reply.type} ${body.message ?? ''}`);
      bills[i] = { billId: body.billId, patientId, total: BILL_TOTAL };
    }
  }));
  return bills;
}

export function billsNeeded(ops: readonly Op[]): number {
  const pays = ops.filter((op) => op === 'pay').length;
  return pays > 0 ? pays : ops.includes('query') ? QUERY_ONLY_BILLS : 0;
}

export interface Registering {
  depts: readonly string[];
  sessions: readonly string[];
  date: string;
}

// The request an operation sends, and the answer type that counts as success.
export interface Planned {
  type: string;
  body: object;
  expect: string;
}

export class Workload {
  private nextBill = 0;
  private nextQuery = 0;
  private nextRegistration = 0;

  constructor(private readonly bills: readonly PreparedBill[], private readonly reg: Registering | undefined, private readonly tag: string) {}

  request(op: Op): Planned {
    if (op === 'pay') {
      const bill = this.bills[this.nextBill++];
      assert(bill !== undefined, 'one prepared bill per payment');
      return {
        type: 'payment.request', expect: 'payment.result',
        body: { billId: bill.billId, amount: bill.total, currency: 'CNY', method: 'code', authCode: ACCEPTED_AUTH_CODE },
      };
    }
    if (op === 'query') {
      const bill = this.bills.length ? this.bills[this.nextQuery++ % this.bills.length]! : undefined;
      return { type: 'bill.query', expect: 'bill.list', body: { patientId: bill?.patientId ?? `LP-${this.tag}-none` } };
    }
    assert(this.reg !== undefined && this.reg.depts.length > 0, 'registrations need departments');
    const k = this.nextRegistration++;
    const { depts, sessions, date } = this.reg;
    return {
      type: 'registration.request', expect: 'registration.held',
      body: { dept: depts[k % depts.length]!, session: sessions[Math.floor(k / depts.length) % sessions.length]!, date, patientId: `LR-${this.tag}-${k.toString(36)}` },
    };
  }
}

// A date `days` ahead in the hospital's local time (gateway.yaml timeZone).
export function localDate(days: number, timeZone = TIME_ZONE_DEFAULT): string {
  return addDays(new HospitalDay(timeZone).dayOf(Date.now()), days);
}
