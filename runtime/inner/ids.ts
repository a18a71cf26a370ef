// Identifiers the gateway hands out: a letter for the kind, the day, this store's
// instance tag and a per-day sequence from the store. The tag keeps a gateway rebuilt
// with an empty store from reusing an order id the payment server has already seen;
// it is made of letters so that no id ever holds 13 digits in a row, which the card
// guard would take for a card number.
import { randomInt } from 'node:crypto';
import type { Tx } from './store/store.js';
import { utcDayOf } from '../common/hospital-day.js';
import { key as storeKey } from './store/keyspace.js';

export const INSTANCE_KEY = storeKey('meta', 'instance');
const TAG_LETTERS = 4; // 26^4: a collision needs hundreds of thousands of rebuilds

export async function instanceTag(tx: Tx): Promise<string> {
  const existing = await tx.get<string>(INSTANCE_KEY);
  if (existing) return existing;
  const tag = newInstanceTag();
  tx.put(INSTANCE_KEY, tag);
  return tag;
}

// A tag unlike `old`. A restored store gets one (store/restore.ts): its id sequences are
// as they were at the backup, and the ids handed out since, which the payment server may
// have seen, must not be handed out again.
export function newInstanceTag(old?: string): string {
  for (;;) {
    const tag = Array.from({ length: TAG_LETTERS }, () => String.fromCharCode(97 + randomInt(26))).join('');
    if (tag !== old) return tag;
  }
}

export async function nextId(tx: Tx, letter: 'B' | 'P' | 'R' | 'F' | 'D' | 'H' | 'M', now: Date): Promise<string> {
  const day = utcDayOf(now.getTime()).replaceAll('-', '');
  const seqKey = storeKey('meta', 'seq', letter, day);
  const seq = ((await tx.get<number>(seqKey)) ?? 0) + 1;
  tx.put(seqKey, seq);
  return `${letter}${day}-${await instanceTag(tx)}-${String(seq).padStart(6, '0')}`;
}

// Ids carry the UTC day they were made: a key order that stays put when gateway.yaml
// timeZone changes. A hospital day [startMs, endMs) overlaps one or two UTC days, so its
// records lie in the ids from the first of those days through the last; callers still
// keep only the records whose own time falls in the hospital day.
export interface IdKeyRange {
  prefix: string; // every key of the range starts with it
  after: string; // the range starts after this key
  beyond(key: string): boolean; // true once a key is past the range (keys in order)
}

export function idKeyRange(keyPrefix: string, letter: string, startMs: number, endMs: number): IdKeyRange {
  const first = `${keyPrefix}${letter}${utcDayOf(startMs).replaceAll('-', '')}`;
  const last = `${keyPrefix}${letter}${utcDayOf(endMs - 1).replaceAll('-', '')}`;
  let common = 0;
  while (common < first.length && first[common] === last[common]) common += 1;
  const dayEnd = last.length;
  return { prefix: first.slice(0, common), after: first, beyond: (key) => key.slice(0, dayEnd) > last };
}
