import type { StoreEngine } from './engine.js';
import { compareKeys, prefixUpperBound } from './keys.js';

export interface ListOptions {
  limit?: number;
  reverse?: boolean;
  after?: string; // forward only: start after this key (a page cursor); it must start with the prefix
}

// Lists keys under `prefix` from the disk, with `upper` (pending writes: JSON text, or
// undefined for a delete) laid over it. Both inputs are read from the same instant when
// the engine's iterators read a snapshot taken when they are created (LevelDB): the
// caller takes `upper` in the same turn as this function opens the iterator. Otherwise
// (PostgreSQL) the caller checks afterwards that no newer batch reached the disk meanwhile.
export async function mergeList(
  engine: StoreEngine,
  prefix: string,
  upper: Array<[string, string | undefined]>,
  limit: number,
  reverse: boolean,
  after?: string,
): Promise<Array<[string, string]>> {
  const direction = reverse ? -1 : 1;
  if (after !== undefined) upper = upper.filter(([key]) => compareKeys(key, after) > 0);
  upper.sort((a, b) => compareKeys(a[0], b[0]) * direction);
  const lt = prefixUpperBound(prefix);
  const lower = after === undefined ? { gte: prefix } : { gt: after };
  // Each pending write replaces or hides at most one disk entry: the disk gives at most
  // limit + upper.length. Without a limit the iterator reads ahead a chunk (16 KiB) even
  // when one entry is asked for.
  const diskLimit = limit + upper.length;
  const it = engine.iterator({ ...lower, ...(lt === undefined ? {} : { lt }), reverse, limit: diskLimit });
  const out: Array<[string, string]> = [];
  try {
    let disk = await it.next();
    let i = 0;
    while (out.length < limit) {
      const pending = upper[i];
      if (!pending && !disk) break;
      const order = !disk ? -1 : !pending ? 1 : compareKeys(pending[0], disk[0]) * direction;
      if (order > 0) {
        out.push(disk!);
        disk = await it.next();
        continue;
      }
      // The pending write wins over the disk's value for the same key, and a pending
      // delete hides it.
      if (pending![1] !== undefined) out.push([pending![0], pending![1]]);
      i += 1;
      if (order === 0) disk = await it.next();
    }
  } finally {
    await it.close();
  }
  return out;
}
