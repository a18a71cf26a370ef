// How each query kind is read from the store: its key prefix (narrowed when the filter
// allows, since ids carry their UTC day: `P20261126-…`), the view of one record (the
// allowlisted fields of columns.ts, plus a patient id joined from the bill or the
// registration a payment was for), and the date a `date` filter compares.
import type { Store } from '../store/store.js';
import type { AuditEntry } from '../store/audit.js';
import { COLUMNS, type QueryKindName } from './columns.js';

export type View = Record<string, unknown>;

export interface QueryFilters {
  date?: string; // YYYY-MM-DD, UTC
  patient?: string;
  order?: string;
}

export interface QueryKind {
  name: QueryKindName;
  prefix: string;
  // A narrower prefix for these filters, when the keys allow one.
  narrow(filters: QueryFilters): string | undefined;
  view(value: unknown, store: Store): Promise<View>;
  dateOf(view: View): string | undefined;
}

const pick = (record: Record<string, unknown>, fields: readonly string[]): View => {
  const out: View = {};
  for (const f of fields) if (record[f] !== undefined) out[f] = record[f];
  return out;
};
const day = (iso: unknown) => (typeof iso === 'string' ? iso.slice(0, 10) : undefined);
const compact = (date: string) => date.replaceAll('-', '');

// A key prefix for ids of the form `<letter><yyyymmdd>-…` (runtime/inner/ids.ts).
function byIdDay(prefix: string, letter: string, orderField?: boolean) {
  return (f: QueryFilters): string | undefined => {
    if (orderField && f.order !== undefined) return `${prefix}${f.order}`;
    if (f.date !== undefined) return `${prefix}${letter}${compact(f.date)}`;
    return undefined;
  };
}

async function patientOfOrder(store: Store, order: Record<string, unknown>): Promise<string | undefined> {
  const owner = typeof order.billId === 'string' ? await store.get<{ patientId?: string }>(`bill!${order.billId}`)
    : typeof order.registrationId === 'string' ? await store.get<{ patientId?: string }>(`reg!${order.registrationId}`)
      : undefined;
  return owner?.patientId;
}

export const KINDS: Record<QueryKindName, QueryKind> = {
  payments: {
    name: 'payments', prefix: 'order!', narrow: byIdDay('order!', 'P', true),
    async view(value, store) {
      const order = value as Record<string, unknown>;
      const patientId = await patientOfOrder(store, order);
      return pick({ ...order, ...(patientId !== undefined ? { patientId } : {}) }, COLUMNS.payments);
    },
    dateOf: (v) => day(v.createdAt),
  },
  refunds: {
    name: 'refunds', prefix: 'refund!', narrow: byIdDay('refund!', 'F'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.refunds),
    dateOf: (v) => day(v.createdAt),
  },
  bills: {
    name: 'bills', prefix: 'bill!', narrow: byIdDay('bill!', 'B'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.bills),
    dateOf: (v) => day(v.createdAt),
  },
  registrations: {
    // `date` is the visit day, which is what a registration is looked up by.
    name: 'registrations', prefix: 'reg!', narrow: () => undefined,
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.registrations),
    dateOf: (v) => (typeof v.date === 'string' ? v.date : day(v.createdAt)),
  },
  dispatches: {
    name: 'dispatches', prefix: 'dispatch!', narrow: byIdDay('dispatch!', 'D'),
    view: async (value) => pick(value as Record<string, unknown>, COLUMNS.dispatches),
    dateOf: (v) => day(v.createdAt),
  },
  audit: {
    name: 'audit', prefix: 'audit!', narrow: () => undefined,
    async view(value) {
      const entry = value as AuditEntry;
      const { kind, ...event } = entry.event;
      return { seq: entry.seq, ts: entry.ts, kind, event };
    },
    dateOf: (v) => day(v.ts),
  },
};

// The filters of a view: an audit entry matches on the ids its event names.
export function matches(kind: QueryKind, view: View, f: QueryFilters): boolean {
  const fields = kind.name === 'audit' ? (view.event as View) : view;
  if (f.date !== undefined && kind.dateOf(view) !== f.date) return false;
  if (f.patient !== undefined && fields.patientId !== f.patient) return false;
  if (f.order !== undefined && fields.orderId !== f.order) return false;
  return true;
}
