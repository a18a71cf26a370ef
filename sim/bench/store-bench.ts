// Throughput of the inner store under group commit: 10,000 small transactions started
// at once, each one put and one audit entry, every one awaited until synced to disk.
// Prints numbers only; no assertions. Run: node dist/sim/bench/store-bench.js
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../../runtime/common/logger.js';
import { Store } from '../../runtime/inner/store/index.js';
import { key } from '../../runtime/inner/store/keyspace.js';

const TRANSACTIONS = 10_000;

export interface StoreBenchResult {
  transactions: number;
  seconds: number;
  perSecond: number;
  batches: number;
}

export async function runStoreBench(transactions = TRANSACTIONS): Promise<StoreBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-bench-'));
  const store = await Store.open(dir, createLogger('store-bench', 'warn'));
  try {
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: transactions }, (_, i) => store.transact((tx) => {
      tx.put(key('idem', 'kiosk-01', `r${i}`), { status: 'answered', at: i });
      tx.audit({ kind: 'gap.accepted', device: 'kiosk-01', type: 'bill.query', id: `r${i}` });
    })));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { transactions, seconds, perSecond: transactions / seconds, batches: store.stats.batches };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatStoreBench(r: StoreBenchResult): string {
  return `store: ${r.transactions} transactions in ${r.seconds.toFixed(2)} s = ${Math.round(r.perSecond)} tx/s (${r.batches} fsync batches, ${(r.transactions / r.batches).toFixed(1)} tx per batch)`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatStoreBench(await runStoreBench()));
}
