// One page of a query: records read in key order from a cursor, filtered, viewed and
// masked. A page ends at `limit` items or after QUERY_SCAN_ROWS_MAX records read, so a
// filter that matches little never makes one request read the whole store; the cursor
// says where the next page starts.
import type { Store } from '../store/store.js';
import { KINDS, matches, type QueryFilters, type View } from './kinds.js';
import { indexedBy } from './indexes.js';
import type { QueryKindName } from './columns.js';
import { maskValue } from './mask.js';
import { isCalendarDate, type HospitalDay } from '../../common/hospital-day.js';

export const QUERY_PAGE_ITEMS_DEFAULT = 100;
export const QUERY_PAGE_ITEMS_MAX = 500;
// Records read per page at most, matched or not.
export const QUERY_SCAN_ROWS_MAX = 5_000;
const SCAN_BATCH_ROWS = 500;

export interface QueryRequest {
  kind: QueryKindName;
  filters: QueryFilters;
  limit: number;
  cursor?: string;
  unmask: boolean;
}

export interface QueryPage {
  kind: QueryKindName;
  masked: boolean;
  items: View[];
  nextCursor: string | null;
}

export class QueryInputError extends Error {}

// The parameters of a query, the same through the management API and offline
// (`ferry query --data`).
export const QUERY_PARAMS: ReadonlySet<string> = new Set(['date', 'patient', 'order', 'limit', 'cursor', 'unmask']);
const ID_PARAM = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const PATIENT_PARAM = /^[^\u0000-\u001f]{1,64}$/;

export function queryFiltersOf(params: URLSearchParams): QueryFilters {
  const filters: QueryFilters = {};
  const date = params.get('date');
  if (date !== null) {
    if (!isCalendarDate(date)) throw new QueryInputError('date is YYYY-MM-DD');
    filters.date = date;
  }
  const patient = params.get('patient');
  if (patient !== null) {
    if (!PATIENT_PARAM.test(patient)) throw new QueryInputError('patient is 1..64 printable characters');
    filters.patient = patient;
  }
  const order = params.get('order');
  if (order !== null) {
    if (!ID_PARAM.test(order)) throw new QueryInputError('order is an order id');
    filters.order = order;
  }
  return filters;
}

export async function queryPage(store: Store, day: HospitalDay, q: QueryRequest): Promise<QueryPage> {
  const kind = KINDS[q.kind];
  let range = (await kind.narrow(q.filters, day, await indexedBy(store), store)) ?? { prefix: kind.prefix };
  // A cursor from before an index was complete goes on reading the records themselves.
  if (q.cursor !== undefined && range.record !== undefined && !cursorKey(q.cursor).startsWith(range.prefix)) range = { prefix: kind.prefix };
  const prefix = range.prefix;
  let after = q.cursor === undefined ? range.after : decodeCursor(q.cursor, prefix);
  const items: View[] = [];
  let scanned = 0;
  for (;;) {
    const want = Math.min(SCAN_BATCH_ROWS, QUERY_SCAN_ROWS_MAX - scanned);
    const rows = await store.list<unknown>(prefix, { limit: want, ...(after !== undefined ? { after } : {}) });
    const end = range.beyond ? rows.findIndex(([key]) => range.beyond!(key)) : -1;
    const inRange = end === -1 ? rows : rows.slice(0, end);
    // Through an index, each entry names its record; one that retention has just
    // deleted is skipped.
    const values = range.record ? await store.getMany<unknown>(inRange.map(([, v]) => range.record!(v))) : inRange.map(([, v]) => v);
    const present = values.map((v, i) => [inRange[i]![0], v] as const).filter(([, v]) => v !== undefined);
    const views = await kind.views(present.map(([, v]) => v), store);
    let viewAt = 0;
    for (let i = 0; i < inRange.length; i++) {
      const key = inRange[i]![0];
      after = key;
      scanned += 1;
      if (values[i] === undefined) continue;
      const view = views[viewAt++]!;
      if (!matches(kind, view, q.filters, day)) continue;
      items.push(q.unmask ? view : (maskValue(view) as View));
      if (items.length >= q.limit) return page(q, items, after);
    }
    if (end !== -1) return page(q, items, undefined);
    if (rows.length < want) return page(q, items, undefined);
    if (scanned >= QUERY_SCAN_ROWS_MAX) return page(q, items, after);
  }
}

function page(q: QueryRequest, items: View[], after: string | undefined): QueryPage {
  return { kind: q.kind, masked: !q.unmask, items, nextCursor: after === undefined ? null : Buffer.from(after, 'utf8').toString('base64url') };
}

// A cursor is the last key read, so it must lie under the prefix these filters read.
function cursorKey(cursor: string): string {
  return /^[A-Za-z0-9_-]{1,1400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
}

function decodeCursor(cursor: string, prefix: string): string {
  const key = cursorKey(cursor);
  if (!key.startsWith(prefix)) throw new QueryInputError('cursor does not belong to this query');
  return key;
}
