// The outbox: every message to a device that is not the direct answer to its request
// (bill.paid, a late payment.result, a refund's outcome, registration.booked) is
// written here in the same transaction as the change that causes it, and stays until
// the device acknowledges it (PUBACK) or retention prunes it. A device that was offline
// when its bill was paid gets bill.paid when it comes back, crash or no crash.
//
//   outbox!{device}!{messageId}   one message (OutboxEntry), oldest first: message ids
//                                 are `M{yyyymmdd}-{tag}-{seq}`, so key order is time order
//
// The message id is the envelope's `id`, the same on every redelivery: a device drops
// a message whose id it has seen (devices/client.ts).
import type { Tx, Store } from '../store/store.js';
import type { Answer } from '../gap/handler.js';
import { PROTOCOL_VERSION } from '../../../devices/protocol.js';
import { nextId } from '../ids.js';
import { KEYSPACE } from '../store/keyspace.js';
import { compareKeys } from '../store/keys.js';
import type { OutboxCounts } from './counts.js';

export const OUTBOX_PREFIX = KEYSPACE.outbox.prefix;
export const outboxPrefix = (device: string) => `${OUTBOX_PREFIX}${device}!`;
export const outboxKey = (device: string, messageId: string) => `${outboxPrefix(device)}${messageId}`;

// Messages one device may have waiting. A device that stays away for long must not grow
// the store without bound; past this the oldest message goes, with an audit entry
// (`outbox.dropped`) and an alert, never silently. Whatever it said can still be asked
// for (bill.status, a resent payment.request, registration.query).
export const MAX_PENDING_PER_DEVICE = 1_000;

export interface OutboxEntry {
  messageId: string;
  device: string;
  re?: string; // the request a late answer belongs to (a late payment.result)
  type: string;
  body: object;
  at: string; // when it was written: the envelope's ts, and what retention prunes by
}

export interface Posted { entry: OutboxEntry; dropped?: OutboxEntry }

// Inside the transaction of the change that causes the message. With `counts`, the
// device's outbox is listed only when its count is not known (see counts.ts).
export async function post(tx: Tx, device: string, message: Answer & { re?: string }, now: Date, max = MAX_PENDING_PER_DEVICE, counts?: OutboxCounts): Promise<Posted> {
  const entry: OutboxEntry = {
    messageId: await nextId(tx, 'M', now), device, ...(message.re ? { re: message.re } : {}),
    type: message.type, body: message.body, at: now.toISOString(),
  };
  const known = counts?.get(tx, device);
  let waiting: number;
  let oldest: [string, OutboxEntry] | undefined;
  if (known === undefined) {
    const listed = await tx.list<OutboxEntry>(outboxPrefix(device), { limit: max });
    waiting = listed.length;
    oldest = listed[0];
  } else {
    waiting = known.waiting;
    if (waiting >= max) oldest = (await tx.list<OutboxEntry>(outboxPrefix(device), { limit: 1, ...(known.floor ? { after: known.floor } : {}) }))[0];
  }
  const key = outboxKey(device, entry.messageId);
  let dropped: OutboxEntry | undefined;
  let floor = known?.floor;
  if (waiting >= max && oldest) {
    const [oldestKey, first] = oldest;
    tx.del(oldestKey);
    tx.audit({ kind: 'outbox.dropped', device, messageId: first.messageId, type: first.type, max });
    dropped = first;
    waiting -= 1;
    floor = oldestKey;
  }
  tx.put(key, entry);
  // A clock set back makes a key below the floor: then there is none.
  if (floor !== undefined && compareKeys(key, floor) <= 0) floor = undefined;
  counts?.set(tx, device, { waiting: waiting + 1, ...(floor !== undefined ? { floor } : {}) });
  return { entry, ...(dropped ? { dropped } : {}) };
}

// What waits for a device, oldest first; with `after`, only what has a later key (a
// delivery pass that already sent everything up to that key, skipping the deleted keys a
// LevelDB iterator would step over one by one from the prefix's start).
export async function pendingFor(store: Store, device: string, limit: number, after?: string): Promise<OutboxEntry[]> {
  return (await store.list<OutboxEntry>(outboxPrefix(device), { limit, ...(after !== undefined ? { after } : {}) })).map(([, e]) => e);
}

// The device acknowledged these: they go. With `counts`, a count that is known stays known
// (counts.ts): the transaction reads which of them are still there, so that a message
// that retention or the cap took meanwhile is not counted twice.
export async function remove(store: Store, device: string, messageIds: readonly string[], counts?: OutboxCounts): Promise<void> {
  if (messageIds.length === 0) return;
  await store.transact(async (tx) => {
    const known = counts?.get(tx, device);
    let gone = 0;
    for (const id of messageIds) {
      const key = outboxKey(device, id);
      if (known !== undefined && (await tx.get(key)) !== undefined) gone += 1;
      tx.del(key);
    }
    if (known !== undefined) counts!.set(tx, device, { ...known, waiting: known.waiting - gone });
  });
}

export function envelopeOf(e: OutboxEntry): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id: e.messageId, ...(e.re ? { re: e.re } : {}), type: e.type, ts: e.at, body: e.body });
}
