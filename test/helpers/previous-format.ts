// Stores as earlier versions of Ferry left them, for the format, backup and upgrade
// suites: a store made by this one, turned into format 1 (docs/store-format.md) by
// removing what format 2 added; every key of a stopped store, for comparing before and
// after; and a restored store without what a restore adds.
import path from 'node:path';
import { Level } from 'level';
import { FORMAT_KEY } from '../../runtime/inner/store/format.js';
import { KEYSPACE } from '../../runtime/inner/store/keyspace.js';
import { indexMarkerKey } from '../../runtime/inner/management/indexes.js';
import { auditKey } from '../../runtime/inner/store/keys.js';
import { INSTANCE_KEY } from '../../runtime/inner/ids.js';
import { RESTORED_KIND } from '../../runtime/inner/store/restore.js';

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

// A restored store as the backup held it: without what the restore adds (its new
// instance tag and the store.restored audit entry after the backup's head). Checks that
// both are there.
export function asBackedUp(restored: Map<string, string>, backedUp: Map<string, string>, backupHeadSeq: number): Map<string, string> {
  const out = new Map(restored);
  const entry = auditKey(backupHeadSeq + 1);
  const added = JSON.parse(out.get(entry) ?? 'null') as { event?: { kind?: string; instanceTag?: string } } | null;
  if (added?.event?.kind !== RESTORED_KIND) throw new Error(`${entry} is not the store.restored entry`);
  if (out.get(INSTANCE_KEY) === undefined || out.get(INSTANCE_KEY) === backedUp.get(INSTANCE_KEY)) throw new Error('the restored store has a new instance tag');
  if (JSON.parse(out.get(INSTANCE_KEY)!) !== added.event.instanceTag) throw new Error('the entry names the new tag');
  out.delete(entry);
  if (backedUp.has(INSTANCE_KEY)) out.set(INSTANCE_KEY, backedUp.get(INSTANCE_KEY)!);
  else out.delete(INSTANCE_KEY);
  return out;
}
