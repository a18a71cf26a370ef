// Every key prefix of the inner side's store, in one table: what each holds, which module
// writes it, how retention treats it and which query kind reads it. Retention, the query
// side and the hospital simulation's invariant checker take their prefixes from here, and
// a test refuses a prefix literal anywhere else, so a new record kind is declared once.
//
// Keys are `prefix` + parts joined by `!`. Ids never contain `!`; patient ids and device
// ids may not either (their schemas forbid it), so a part cannot spill into the next.
import { assert } from '../../common/errors.js';

// How retention treats a prefix:
//   record:  a record of a retention kind, pruned by its age when closed
//   index:   an index or journal entry, deleted together with the record it points to
//   open:    what is open by definition (journals, expiry queues); emptied by the owner
//   state:   kept as long as the gateway runs (pools, counters, versions, meta)
//   audit:   the audit chain: pruned only through checkpoints
export type RetentionClass = 'record' | 'index' | 'open' | 'state' | 'audit';

interface Space {
  readonly prefix: string;
  readonly owner: string; // the module that writes it
  readonly holds: string;
  readonly retention: RetentionClass;
  readonly query?: 'payments' | 'refunds' | 'bills' | 'registrations' | 'dispatches' | 'audit';
}

export const KEYSPACE = {
  order: { prefix: 'order!', owner: 'payments/order-book', holds: 'an order, by order id', retention: 'record', query: 'payments' },
  journal: { prefix: 'journal!', owner: 'payments/order-book', holds: 'an order that is not final yet', retention: 'open' },
  refund: { prefix: 'refund!', owner: 'payments/refunds', holds: 'a refund, by refund id', retention: 'record', query: 'refunds' },
  refundJournal: { prefix: 'refundJournal!', owner: 'payments/refunds', holds: 'a refund the payment server has not settled', retention: 'open' },
  refundsOf: { prefix: 'refundsOf!', owner: 'payments/refunds', holds: 'the refunds of an order', retention: 'index' },
  notify: { prefix: 'notify!', owner: 'payments/notifications', holds: 'what was accepted under a notification id', retention: 'record' },
  ordersOf: { prefix: 'ordersOf!', owner: 'payments/order-book', holds: 'the orders of a patient (through the bill or registration paid)', retention: 'index' },
  bill: { prefix: 'bill!', owner: 'billing/bills', holds: 'a bill, by bill id', retention: 'record', query: 'bills' },
  billsOf: { prefix: 'billsOf!', owner: 'billing/bills', holds: 'the bills of a patient', retention: 'index' },
  billRef: { prefix: 'billRef!', owner: 'billing/bills', holds: 'a desk\'s bill reference', retention: 'index' },
  reg: { prefix: 'reg!', owner: 'registration/registrations', holds: 'a registration, by registration id', retention: 'record', query: 'registrations' },
  regsOf: { prefix: 'regsOf!', owner: 'registration/registrations', holds: 'the registrations of a patient', retention: 'index' },
  regExpiry: { prefix: 'regExpiry!', owner: 'registration/registrations', holds: 'holds by expiry time, for the sweeper', retention: 'open' },
  visitNo: { prefix: 'visitNo!', owner: 'registration/pools', holds: 'a visit number given in a session', retention: 'index' },
  pool: { prefix: 'pool!', owner: 'registration/pools', holds: 'a session\'s slot pool', retention: 'state' },
  slotsVersion: { prefix: 'slotsVersion!', owner: 'handlers/slots-status', holds: 'the last receiver report\'s version, per department', retention: 'state' },
  dispatch: { prefix: 'dispatch!', owner: 'dispatch/records', holds: 'a dispatched patient message', retention: 'record', query: 'dispatches' },
  dispatchByDept: { prefix: 'dispatchByDept!', owner: 'dispatch/records', holds: 'a department\'s dispatches in order', retention: 'index' },
  dispatchOpen: { prefix: 'dispatchOpen!', owner: 'dispatch/records', holds: 'a department\'s unacknowledged dispatches', retention: 'open' },
  dispatchDept: { prefix: 'dispatchDept!', owner: 'dispatch/records', holds: 'a department\'s dispatch counter', retention: 'state' },
  idem: { prefix: 'idem!', owner: 'gap/gap', holds: 'a device request\'s idempotency record', retention: 'record' },
  outbox: { prefix: 'outbox!', owner: 'outbox/records', holds: 'a message a device has not acknowledged', retention: 'record' },
  audit: { prefix: 'audit!', owner: 'store/audit', holds: 'the hash-chained audit log', retention: 'audit', query: 'audit' },
  auditOf: { prefix: 'auditOf!', owner: 'store/audit', holds: 'the audit entries whose event names an order, by order id and seq', retention: 'index' },
  meta: { prefix: 'meta!', owner: 'store, ids', holds: 'the store format version (meta!format), the instance id, id sequences, the audit checkpoint, the query index markers', retention: 'state' },
} as const satisfies Record<string, Space>;

export type SpaceName = keyof typeof KEYSPACE;

// `key('order', id)` is `order!{id}`; `key('visitNo', dept, date, session, '000004')` is
// `visitNo!{dept}!{date}!{session}!000004`.
export function key(space: SpaceName, ...parts: string[]): string {
  assert(parts.length > 0, 'a key has at least one part after its prefix');
  return KEYSPACE[space].prefix + parts.join('!');
}

// The prefix of every key under `space` whose first parts are `parts` (the whole space
// without parts): `prefixOf('billsOf', patientId)` is `billsOf!{patientId}!`.
export function prefixOf(space: SpaceName, ...parts: string[]): string {
  return KEYSPACE[space].prefix + parts.map((p) => `${p}!`).join('');
}

// The rest of a key after its space's prefix: the id of `order!{id}`.
export function idOf(space: SpaceName, fullKey: string): string {
  const { prefix } = KEYSPACE[space];
  assert(fullKey.startsWith(prefix), `${fullKey} is a key of ${space}`);
  return fullKey.slice(prefix.length);
}
