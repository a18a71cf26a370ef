// How each query kind is read from the store: its key prefix (narrowed when the filter
// allows, since ids carry their UTC day: `P20261126-…`), or a secondary index when a
// filter names a patient or an order (the index's keys are read in order and each
// names the record), the views of a page of records (the allowlisted fields of
// columns.ts, plus a patient id joined from the bill or the registration a payment was
// for), and the date a `date` filter compares: the hospital's day (gateway.yaml
// timeZone) of the record's time. An index added after a store was made (ordersOf,
// auditOf) is used once the store says it is complete (indexes.ts); until then these
// filters read the records themselves, as before.
import type { Store } from '../store/store.js';
import type { AuditEntry } from '../store/audit.js';
import { COLUMNS, type QueryKindName } from './columns.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import { idKeyRange, type IdKeyRange } from '../ids.js';
import { KEYSPACE, key, prefixOf } from '../store/keyspace.js';
import { auditKey } from '../store/keys.js';
import { auditDayRange } from './audit-days.js';

export type View = Record<string, unknown>;

export interface QueryFilters {
  date?: string; // YYYY-MM-DD, a day in the hospital
  patient?: string;
  order?: string;
}

export interface QueryKind {
  name: QueryKindName;
  prefix: string;
  // A narrower key range for these filters, when the keys or an index allow one.
  narrow(filters: QueryFilters, day: HospitalDay, indexed: IndexedBy, store: Store): KeyRange | undefined | Promise<KeyRange | undefined>;
  views(values: readonly unknown[], store: Store): Promise<View[]>;
  dateOf(view: View, day: HospitalDay): string | undefined;
  // The field whose instant dateOf takes the day of, when it is one: a `date` filter then
  // compares the instant with the day's bounds, which is the same answer without
  // formatting every record's time in the hospital's zone.
  timeField?: string;
}

const pick = (record: Record<string, unknown>, fields: readonly string[]): View => {
  const out: View = {};
  for (const f of fields) if (record[f] !== undefined) out[f] = record[f];
  return out;
};
export type KeyRange = Pick<IdKeyRange, 'prefix'> & Partial<Omit<IdKeyRange, 'prefix'>> & {
  // The range is an index: the key of the record each of its entries names.
  record?: (indexValue: unknown) => string;
};

// The indexes that are complete in this store (indexes.ts).
export interface IndexedBy {
  ordersOf: boolean;
  auditOf: boolean;
}

const viewEach = (fields: readonly string[]) => async (values: readonly unknown[]) => values.map((v) => pick(v as Record<string, unknown>, fields));

const localDay = (iso: unknown, day: HospitalDay) => (typeof iso === 'string' ? day.dayOf(iso) : undefined);

// Keys of ids of the form `<letter><yyyymmdd>-…` (runtime/inner/ids.ts).
function byIdDay(prefix: string, letter: string, orderField?: boolean, byPatient?: (patientId: string, indexed: IndexedBy) => KeyRange | undefined) {
  return (f: QueryFilters, day: HospitalDay, indexed: IndexedBy): KeyRange | undefined => {
    if (orderField && f.order !== undefined) return { prefix: `${prefix}${f.order}` };
    const ofPatient = f.patient !== undefined ? byPatient?.(f.patient, indexed) : undefined;
    if (ofPatient) return ofPatient;
    if (f.date !== undefined) {
      const { startMs, endMs } = day.rangeOf(f.date);
      return idKeyRange(prefix, letter, startMs, endMs);
    }
    return undefined;
  };
}

// The record key an order's patient is read from: its bill's or its registration's.
export function ownerKeyOf(order: { billId?: unknown; registrationId?: unknown }): string | undefined {
  return typeof order.billId === 'string' ? key('bill', order.billId)
    : typeof order.registrationId === 'string' ? key('reg', order.registrationId)
      : undefined;
}

// The patients of many orders, with one read of the store for the page.
export async function patientsOfOrders(store: Store, orders: readonly Record<string, unknown>[]): Promise<Array<string | undefined>> {
  const keys = orders.map(ownerKeyOf);
  const wanted = keys.filter((k): k is string => k !== undefined);
  const owners = await store.getMany<{ patientId?: string }>(wanted);
  const byKey = new Map(wanted.map((k, i) => [k, owners[i]?.patientId]));
  return keys.map((k) => (k === undefined ? undefined : byKey.get(k)));
}

const index = (space: 'ordersOf' | 'billsOf' | 'regsOf', record: (id: string) => string) => (patientId: string): KeyRange =>
  ({ prefix: prefixOf(space, patientId), record: (id) => record(String(id)) });

export const KINDS: Record<QueryKindName, QueryKind> = {
  payments: {
    name: 'payments', prefix: KEYSPACE.order.prefix,
    narrow: byIdDay(KEYSPACE.order.prefix, 'P', true, (p, indexed) => (indexed.ordersOf ? index('ordersOf', (id) => key('order', id))(p) : undefined)),
    async views(values, store) {
      const orders = values as Record<string, unknown>[];
      const patients = await patientsOfOrders(store, orders);
      return orders.map((order, i) => {
        const patientId = patients[i];
        return pick({ ...order, ...(patientId !== undefined ? { patientId } : {}) }, COLUMNS.payments);
      });
    },
    dateOf: (v, d) => localDay(v.createdAt, d), timeField: 'createdAt',
  },
  refunds: {
    name: 'refunds', prefix: KEYSPACE.refund.prefix, narrow: byIdDay(KEYSPACE.refund.prefix, 'F'),
    views: viewEach(COLUMNS.refunds),
    dateOf: (v, d) => localDay(v.createdAt, d), timeField: 'createdAt',
  },
  bills: {
    // billsOf has been written with every bill from the start.
    name: 'bills', prefix: KEYSPACE.bill.prefix, narrow: byIdDay(KEYSPACE.bill.prefix, 'B', false, index('billsOf', (id) => key('bill', id))),
    views: viewEach(COLUMNS.bills),
    dateOf: (v, d) => localDay(v.createdAt, d), timeField: 'createdAt',
  },
  registrations: {
    // `date` is the visit day, which is what a registration is looked up by.
    // So is regsOf with every registration.
    name: 'registrations', prefix: KEYSPACE.reg.prefix,
    narrow: (f) => (f.patient !== undefined ? index('regsOf', (id) => key('reg', id))(f.patient) : undefined),
    views: viewEach(COLUMNS.registrations),
    dateOf: (v, d) => (typeof v.date === 'string' ? v.date : localDay(v.createdAt, d)),
  },
  dispatches: {
    name: 'dispatches', prefix: KEYSPACE.dispatch.prefix, narrow: byIdDay(KEYSPACE.dispatch.prefix, 'D'),
    views: viewEach(COLUMNS.dispatches),
    dateOf: (v, d) => localDay(v.createdAt, d), timeField: 'createdAt',
  },
  audit: {
    name: 'audit', prefix: KEYSPACE.audit.prefix,
    narrow(f, day, indexed, store) {
      if (f.order !== undefined && indexed.auditOf) return { prefix: prefixOf('auditOf', f.order), record: (seq) => auditKey(Number(seq)) };
      if (f.date === undefined) return undefined;
      const { startMs, endMs } = day.rangeOf(f.date);
      return auditDayRange(store, startMs, endMs);
    },
    views: async (values) => values.map((value) => {
      const entry = value as AuditEntry;
      const { kind, ...event } = entry.event;
      return { seq: entry.seq, ts: entry.ts, kind, event };
    }),
    dateOf: (v, d) => localDay(v.ts, d), timeField: 'ts',
  },
};

const dayBounds = new WeakMap<HospitalDay, Map<string, { startMs: number; endMs: number }>>();

function boundsOf(day: HospitalDay, date: string): { startMs: number; endMs: number } {
  let known = dayBounds.get(day);
  if (!known) dayBounds.set(day, (known = new Map()));
  let range = known.get(date);
  if (!range) {
    if (known.size > 64) known.clear();
    known.set(date, (range = day.rangeOf(date)));
  }
  return range;
}

function onDate(kind: QueryKind, view: View, date: string, day: HospitalDay): boolean {
  if (kind.timeField === undefined) return kind.dateOf(view, day) === date;
  const iso = view[kind.timeField];
  if (typeof iso !== 'string') return false;
  const ms = Date.parse(iso);
  const { startMs, endMs } = boundsOf(day, date);
  return ms >= startMs && ms < endMs;
}

// The filters of a view: an audit entry matches on the ids its event names.
export function matches(kind: QueryKind, view: View, f: QueryFilters, day: HospitalDay): boolean {
  const fields = kind.name === 'audit' ? (view.event as View) : view;
  if (f.date !== undefined && !onDate(kind, view, f.date, day)) return false;
  if (f.patient !== undefined && fields.patientId !== f.patient) return false;
  if (f.order !== undefined && fields.orderId !== f.order) return false;
  return true;
}
