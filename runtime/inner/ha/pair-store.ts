// Whether this gateway is one box of an active/standby pair, and the shared database's
// connection string: gateway.yaml `store: { backend: postgres, postgres: { urlFile } }`.
// Only the inner side reads the file, and only when it starts.
import fs from 'node:fs';
import type { GatewayConfig } from '../../rules/types.js';

type StoreSection = { backend: 'leveldb' } | { backend: 'postgres'; postgres: { urlFile: string } };

export function pairUrlFile(gateway: GatewayConfig): string | undefined {
  const store = (gateway as GatewayConfig & { store?: StoreSection }).store;
  return store?.backend === 'postgres' ? store.postgres.urlFile : undefined;
}

export function readPairUrl(urlFile: string): string {
  let text: string;
  try {
    text = fs.readFileSync(urlFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`store.postgres.urlFile: cannot read ${urlFile}: ${(err as Error).message}`);
  }
  if (!/^postgres(ql)?:\/\//.test(text)) throw new Error(`store.postgres.urlFile: ${urlFile} does not hold a postgres:// connection string`);
  return text;
}
