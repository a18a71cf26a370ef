import type { Logger } from '../../common/logger.js';
import type { StoreEngine } from './engine.js';
import { LevelEngine } from './level-engine.js';

// Which engine holds the store (gateway.yaml `store`): the embedded LevelDB in the data
// directory (the default), or a PostgreSQL database shared by a pair of gateways. `epoch`
// is the fencing token of the box that is active (a bigint as a decimal string): when
// given, every write checks that the database still names it (postgres/engine.ts).
export type StoreBackend =
  | { kind: 'leveldb' }
  | { kind: 'postgres'; url: string; epoch?: string; writeTimeoutMs?: number };

export interface EngineOptions {
  createIfMissing: boolean;
  log?: Logger;
  // For the PostgreSQL engine's retries while the server is away: the time now and a
  // wait, injected so that tests of the retry limit need not sleep.
  retryClock?: RetryClock;
}

export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export async function openEngine(dataDir: string, backend: StoreBackend | undefined, options: EngineOptions): Promise<StoreEngine> {
  if (backend === undefined || backend.kind === 'leveldb') return LevelEngine.open(dataDir, options.createIfMissing);
  // Loaded only when used: a gateway on LevelDB never loads the PostgreSQL client.
  const { PostgresEngine } = await import('./postgres/engine.js');
  const { kind: _kind, ...postgres } = backend;
  return PostgresEngine.open({ ...postgres, ...options });
}
