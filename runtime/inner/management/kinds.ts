// How each query kind is read from the store: its key prefix (narrowed when the filter
// allows, since ids carry their UTC day: `P20261126-…`), the view of one record (the
// allowlisted fields of columns.ts, plus a patient id joined from the bill or the
// registration a payment was for), and the date a `date` filter compares: the
// hospital's day (gateway.yaml timeZone) of the record's time.
import type { Store } from '../store/store.js';
import type { AuditEntry } from '../store/audit.js';
import { COLUMNS, type QueryKindName } from './columns.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import { idKeyRange, type IdKeyRange } from '../ids.js';
import { KEYSPACE, key } from '../store/keyspace.js';

export type View = Record<string, unknown>;

export interface QueryFilters {
  date?: string; // YYYY-MM-DD, a day in the hospital
  patient?: string;
  order?: string;
}

export interface QueryKind {
  name: QueryKindName;
  prefix: string;
  // A narrower key range for these filters, when the keys allow one.
  narrow(filters: QueryFilters, day: HospitalDay): KeyRange | undefined;
  view(value: unknown, store: Store): Promise<View>;
  dateOf(view: View, day: HospitalDay): string | undefined;
}

const pick = (record: Record<string, unknown>, fields: readonly string[]): View => {
  const out: View = {};
  for (const f of fields) if (record[f] !== undefined) out[f] = record[f];
  return out;
};
export type KeyRange = Pick<IdKeyRange, 'prefix'> & Partial<Omit<IdKeyRange, 'prefix'>>;

const localDay = (iso: unknown, day: HospitalDay) => (typeof iso === 'string' ? day.dayOf(iso) : undefined);

// Keys of ids of the form `<letter><yyyymmdd>-…` (runtime/inner/ids.ts).
function byIdDay(prefix: string, letter: string, orderField?: boolean) {
  return (f: QueryFilters, day: HospitalDay): KeyRange | undefined => {
    if (orderField && f.order !== undefined) return { prefix: `${prefix}${f.order}` };
    if (f.date !== undefined) {
      const { startMs, endMs } = day.rangeOf(f.date);
      return idKeyRange(prefix, letter, startMs, endMs);
    }
    return undefined;
  };
}

async function patientOfOrder(store: Store, order: Record<string, unknown>): Promise<string | undefined> {
  const owner = typeof order.billId === 'string' ? await store.get<{ patientId?: string }>(key('bill', order.billId))
    : typeof order.registrationId === 'string' ? await store.get<{ patientId?: string }>(key('reg', order.registrationId))
      : undefined;
  return owner?.patientId;
}

export const KINDS: Record<QueryKindName, QueryKind> = {
  payments: {
    name: 'payments', prefix: KEYSPACE.order.prefix, narrow: byIdDay(KEYSPACE.order.prefix, 'P', true),
    async view(value, store) {
      const order = value as Record<string, unknown>;
      const patientId = await patientOfOrder(store, order);
      return pick({ ...order, ...(patientId !== undefined ? { patientId } : {}) }, COLUMNS.payments);
    },
    dateOf: (v, d) => localDay(v.createdAt, d),
  },
  refunds: {
    name: 'refunds', prefix: KEYSPACE.refund.prefix, narrow: byIdDay(KEYSPACE.refund.prefix, 'F'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.refunds),
    dateOf: (v, d) => localDay(v.createdAt, d),
  },
  bills: {
    name: 'bills', prefix: KEYSPACE.bill.prefix, narrow: byIdDay(KEYSPACE.bill.prefix, 'B'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.bills),
    dateOf: (v, d) => localDay(v.createdAt, d),
  },
  registrations: {
    // `date` is the visit day, which is what a registration is looked up by.
    name: 'registrations', prefix: KEYSPACE.reg.prefix, narrow: () => undefined,
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.registrations),
    dateOf: (v, d) => (typeof v.date === 'string' ? v.date : localDay(v.createdAt, d)),
  },
  dispatches: {
    name: 'dispatches', prefix: KEYSPACE.dispatch.prefix, narrow: byIdDay(KEYSPACE.dispatch.prefix, 'D'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.dispatches),
    dateOf: (v, d) => localDay(v.createdAt, d),
  },
  audit: {
    name: 'audit', prefix: KEYSPACE.audit.prefix, narrow: () => undefined,
    async view(value) {
      const entry = value as AuditEntry;
      const { kind, ...event } = entry.event;
      return { seq: entry.seq, ts: entry.ts, kind, event };
    },
    dateOf: (v, d) => localDay(v.ts, d),
  },
};

// The filters of a view: an audit entry matches on the ids its event names.
export function matches(kind: QueryKind, view: View, f: QueryFilters, day: HospitalDay): boolean {
  const fields = kind.name === 'audit' ? (view.event as View) : view;
  if (f.date !== undefined && kind.dateOf(view, day) !== f.date) return false;
  if (f.patient !== undefined && fields.patientId !== f.patient) return false;
  if (f.order !== undefined && fields.orderId !== f.order) return false;
  return true;
}
