// Identifiers the gateway hands out: a letter for the kind, the day, this store's
// instance tag and a per-day sequence from the store. The tag keeps a gateway rebuilt
// with an empty store from reusing an order id the payment server has already seen;
// it is made of letters so that no id ever holds 13 digits in a row, which the card
// guard would take for a card number.
import { randomInt } from 'node:crypto';
import type { Tx } from './store/store.js';

const INSTANCE_KEY = 'meta!instance';
const TAG_LETTERS = 4; // 26^4: a collision needs hundreds of thousands of rebuilds

export async function instanceTag(tx: Tx): Promise<string> {
  const existing = await tx.get<string>(INSTANCE_KEY);
  if (existing) return existing;
  const tag = Array.from({ length: TAG_LETTERS }, () => String.fromCharCode(97 + randomInt(26))).join('');
  tx.put(INSTANCE_KEY, tag);
  return tag;
}

export async function nextId(tx: Tx, letter: 'B' | 'P' | 'R' | 'F' | 'D' | 'H', now: Date): Promise<string> {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  const key = `meta!seq!${letter}!${day}`;
  const seq = ((await tx.get<number>(key)) ?? 0) + 1;
  tx.put(key, seq);
  return `${letter}${day}-${await instanceTag(tx)}-${String(seq).padStart(6, '0')}`;
}
