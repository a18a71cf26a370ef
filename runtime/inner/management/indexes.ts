// The query side's secondary indexes that a store made by an earlier version lacks:
// ordersOf (a patient's orders) and auditOf (the audit entries naming an order). The
// gateway writes both with their records (order-book.ts, Tx.audit); a store from before
// them has records without entries, so each index has a marker in meta, set once every
// record has its entry, and the query side uses an index only when its marker is set
// (until then it reads the records, as before: slower, never wrong).
//
// The build runs in the background after the inner side starts, in bounded pages, each
// one transaction, yielding between them, so that it never holds up a payment. Records
// written meanwhile are indexed by their own transactions.
import type { Logger } from '../../common/logger.js';
import type { AuditEntry, Store } from '../store/store.js';
import { KEYSPACE, key } from '../store/keyspace.js';
import { auditOfKey, auditedOrderOf } from '../store/keys.js';
import { ordersOfKey } from '../payments/order.js';
import { patientsOfOrders, type IndexedBy } from './kinds.js';

export const INDEX_LIMITS = Object.freeze({
  // Records read, and entries written, per transaction of a build (under MAX_BATCH_OPS).
  pageRecords: 500,
});

type IndexName = keyof IndexedBy;

export const indexMarkerKey = (name: IndexName) => key('meta', 'index', name);

// Markers only ever go from unset to set: once seen, a store's answer is kept.
const complete = new WeakMap<Store, IndexedBy>();

export async function indexedBy(store: Store): Promise<IndexedBy> {
  const known = complete.get(store);
  if (known?.ordersOf && known.auditOf) return known;
  const [ordersOf, auditOf] = await store.getMany<boolean>([indexMarkerKey('ordersOf'), indexMarkerKey('auditOf')]);
  const found = { ordersOf: ordersOf === true, auditOf: auditOf === true };
  complete.set(store, found);
  return found;
}

// Builds what is missing; resolves when both indexes are complete or `stopped()` says so.
export async function buildIndexes(store: Store, log: Logger, stopped: () => boolean): Promise<void> {
  const have = await indexedBy(store);
  for (const name of ['ordersOf', 'auditOf'] as const) {
    if (have[name] || stopped()) continue;
    const started = Date.now();
    const entries = await (name === 'ordersOf' ? buildOrdersOf(store, stopped) : buildAuditOf(store, stopped));
    if (stopped()) return;
    await store.transact((tx) => tx.put(indexMarkerKey(name), true));
    log.info({ index: name, entries, ms: Date.now() - started }, 'query index built');
  }
}

async function buildOrdersOf(store: Store, stopped: () => boolean): Promise<number> {
  return eachPage<Record<string, unknown>>(store, KEYSPACE.order.prefix, stopped, async (rows) => {
    const patients = await patientsOfOrders(store, rows.map(([, order]) => order));
    const writes: string[] = [];
    rows.forEach(([, order], i) => {
      const patientId = patients[i];
      if (patientId !== undefined && typeof order.orderId === 'string') writes.push(ordersOfKey(patientId, order.orderId), order.orderId);
    });
    return writes;
  });
}

async function buildAuditOf(store: Store, stopped: () => boolean): Promise<number> {
  return eachPage<AuditEntry>(store, KEYSPACE.audit.prefix, stopped, async (rows) => {
    const writes: Array<string | number> = [];
    for (const [, entry] of rows) {
      const orderId = auditedOrderOf(entry.event);
      if (orderId !== undefined) writes.push(auditOfKey(orderId, entry.seq), entry.seq);
    }
    return writes;
  });
}

// Pages through `prefix`; `plan` says the index entries of a page as key, value pairs.
async function eachPage<T>(store: Store, prefix: string, stopped: () => boolean, plan: (rows: Array<[string, T]>) => Promise<Array<string | number>>): Promise<number> {
  let after: string | undefined;
  let written = 0;
  for (;;) {
    if (stopped()) return written;
    const rows = await store.list<T>(prefix, { limit: INDEX_LIMITS.pageRecords, ...(after !== undefined ? { after } : {}) });
    if (rows.length === 0) return written;
    after = rows[rows.length - 1]![0];
    const pairs = await plan(rows);
    if (pairs.length > 0) {
      await store.transact((tx) => {
        for (let i = 0; i < pairs.length; i += 2) tx.put(String(pairs[i]), pairs[i + 1]);
      });
      written += pairs.length / 2;
    }
    if (rows.length < INDEX_LIMITS.pageRecords) return written;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
