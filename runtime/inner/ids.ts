// Identifiers the gateway hands out: a letter for the kind, the day, a per-day sequence
// from the store, and this store's instance tag, so that a gateway rebuilt with an
// empty store never reuses an order id the payment server has already seen.
import { randomBytes } from 'node:crypto';
import type { Tx } from './store/store.js';

const INSTANCE_KEY = 'meta!instance';

export async function instanceTag(tx: Tx): Promise<string> {
  const existing = await tx.get<string>(INSTANCE_KEY);
  if (existing) return existing;
  const tag = randomBytes(3).toString('hex');
  tx.put(INSTANCE_KEY, tag);
  return tag;
}

export async function nextId(tx: Tx, letter: 'B' | 'P' | 'R' | 'H', now: Date): Promise<string> {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  const key = `meta!seq!${letter}!${day}`;
  const seq = ((await tx.get<number>(key)) ?? 0) + 1;
  tx.put(key, seq);
  return `${letter}${day}-${String(seq).padStart(6, '0')}-${await instanceTag(tx)}`;
}
