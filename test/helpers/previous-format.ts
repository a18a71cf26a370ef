// Stores as earlier versions of Ferry left them, for the format and upgrade suites: a
// store made by this one, turned into format 1 (docs/store-format.md) by removing what
// format 2 added, and every key of a stopped store for comparing before and after.
import path from 'node:path';
import { Level } from 'level';
import { FORMAT_KEY } from '../../runtime/inner/store/format.js';
import { KEYSPACE } from '../../runtime/inner/store/keyspace.js';
import { indexMarkerKey } from '../../runtime/inner/management/indexes.js';

// Every key and its stored text, read with the store closed.
export async function dumpStore(dataDir: string): Promise<Map<string, string>> {
  const db = new Level<string, string>(path.join(dataDir, 'store'), { valueEncoding: 'utf8' });
  try {
    return new Map(await db.iterator().all());
  } finally {
    await db.close();
  }
}

// What a Ferry from before formats were recorded and before the query indexes left: no
// meta!format, no index markers, no ordersOf!/auditOf! entries. `edit` changes it further
// (a damaged record, say) before it is closed.
export async function makePreviousFormat(dataDir: string, edit?: (db: Level<string, string>) => Promise<void>): Promise<void> {
  const db = new Level<string, string>(path.join(dataDir, 'store'), { valueEncoding: 'utf8' });
  try {
    const gone = [FORMAT_KEY, indexMarkerKey('ordersOf'), indexMarkerKey('auditOf')];
    for await (const k of db.keys()) if (k.startsWith(KEYSPACE.ordersOf.prefix) || k.startsWith(KEYSPACE.auditOf.prefix)) gone.push(k);
    await db.batch(gone.map((k) => ({ type: 'del' as const, key: k })));
    await edit?.(db);
  } finally {
    await db.close();
  }
}
