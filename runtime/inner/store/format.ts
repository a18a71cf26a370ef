// The store's format versions, in one table (docs/store-format.md). A store records its
// format under FORMAT_KEY when it is first opened; a store with data and no such key
// was written before formats were recorded, and is format 1. Each later format says how
// a store of the format before it is brought forward: one step, run by migrate.ts in one
// atomic write of the engine together with the new format number (an additive step may
// write ahead in pages, below), after a backup of the whole store. A step reads the store
// as it was before the step and writes only through the step's put.
//
// A new format is added here when a version of Ferry stores something an older one
// would misread, or needs something an older store lacks; code that merely tolerates
// older records (as the audit verifier does entries of either stored form) needs none.
import { KEYSPACE, key } from './keyspace.js';
import { auditOfKey, auditedOrderOf } from './keys.js';
import { indexMarkerKey } from '../management/indexes.js';
import { ownerKeyOf } from '../management/kinds.js';
import { ordersOfKey } from '../payments/order.js';

export const FORMAT_KEY = key('meta', 'format');

// What a step may do: read the store as it stood before the step, and write into the
// step's batch (committed with the new format number, or not at all).
export interface MigrationStep {
  pages(prefix: string): AsyncIterable<Array<[string, string]>>; // key order, stored JSON text
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  put(key: string, value: unknown): void;
  readonly keysWritten: number;
}

export interface StoreFormat {
  version: number;
  holds: string; // what a store of this format holds that the one before did not
  // From the format before: what the step does, and the step. A step is one write of
  // the engine with the new format number, unless it is `additive`: its writes are
  // entries the format before may already hold in part (and says so), so that when they
  // outgrow one write (MIGRATION_ONE_WRITE_OPS) they go in pages, and only what makes
  // them count (markers, the format number) waits for the last write.
  from?: { does: string; additive?: string; run(step: MigrationStep): Promise<void> };
}

export const FORMATS: readonly StoreFormat[] = [
  {
    version: 1,
    holds: 'every store written before formats were recorded (no meta!format key); '
      + 'the ordersOf! and auditOf! query indexes may be missing or partly built (their meta!index! markers unset), '
      + 'and audit entries are in either stored form (fields in any order, or the event last and canonical)',
  },
  {
    version: 2,
    holds: 'its number under meta!format; the ordersOf! and auditOf! indexes complete, with their markers set',
    from: {
      does: 'builds ordersOf! (from each order and the bill or registration it pays) and auditOf! (from each audit entry naming an order) '
        + 'where their marker is unset, then sets both markers; audit entries are not rewritten (both stored forms verify)',
      additive: 'index entries derived from records, which format 1 allows to be partly built; the markers that make the query side use them are set in the last write',
      run: buildQueryIndexes,
    },
  },
];

export const CURRENT_FORMAT = FORMATS[FORMATS.length - 1]!.version;

// The index entries a store from before the query indexes lacks, built whole, and then
// their markers. Entries a partial background build already wrote are written again
// with the same value.
async function buildQueryIndexes(step: MigrationStep): Promise<void> {
  const [ordersOf, auditOf] = await step.getMany([indexMarkerKey('ordersOf'), indexMarkerKey('auditOf')]);
  if (ordersOf !== 'true') {
    for await (const page of step.pages(KEYSPACE.order.prefix)) {
      const orders = page.map(([, json]) => JSON.parse(json) as Record<string, unknown>);
      const owners = orders.map((order) => ownerKeyOf(order));
      const wanted = owners.filter((k): k is string => k !== undefined);
      const found = await step.getMany(wanted);
      const patientOf = new Map(wanted.map((k, i) => [k, found[i] === undefined ? undefined : (JSON.parse(found[i]!) as { patientId?: unknown }).patientId]));
      orders.forEach((order, i) => {
        const patientId = owners[i] === undefined ? undefined : patientOf.get(owners[i]!);
        if (typeof patientId === 'string' && typeof order.orderId === 'string') step.put(ordersOfKey(patientId, order.orderId), order.orderId);
      });
    }
  }
  if (auditOf !== 'true') {
    for await (const page of step.pages(KEYSPACE.audit.prefix)) {
      for (const [, json] of page) {
        const entry = JSON.parse(json) as { seq: number; event: Record<string, unknown> };
        const orderId = auditedOrderOf(entry.event);
        if (orderId !== undefined) step.put(auditOfKey(orderId, entry.seq), entry.seq);
      }
    }
  }
  if (ordersOf !== 'true') step.put(indexMarkerKey('ordersOf'), true);
  if (auditOf !== 'true') step.put(indexMarkerKey('auditOf'), true);
}

// What a brand-new store is stamped with: its format, and what the format promises
// (an empty store's indexes are complete).
export function newStoreKeys(): Array<[string, unknown]> {
  return [[FORMAT_KEY, CURRENT_FORMAT], [indexMarkerKey('ordersOf'), true], [indexMarkerKey('auditOf'), true]];
}
