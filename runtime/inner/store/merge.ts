import type { Level } from 'level';
import { compareKeys, prefixUpperBound } from './keys.js';

export interface ListOptions {
  limit?: number;
  reverse?: boolean;
}

// Lists keys under `prefix` from the disk, with `upper` (pending writes: JSON text, or
// undefined for a delete) laid over it. Both inputs are read from the same instant: the
// caller takes `upper` in the same turn as this function opens the iterator, and a LevelDB
// iterator reads from a snapshot taken when it is created.
export async function mergeList(
  db: Level<string, unknown>,
  prefix: string,
  upper: Array<[string, string | undefined]>,
  limit: number,
  reverse: boolean,
): Promise<Array<[string, string]>> {
  const direction = reverse ? -1 : 1;
  upper.sort((a, b) => compareKeys(a[0], b[0]) * direction);
  const lt = prefixUpperBound(prefix);
  const it = db.iterator<string, string>({ gte: prefix, ...(lt === undefined ? {} : { lt }), reverse, keyEncoding: 'utf8', valueEncoding: 'utf8' });
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
