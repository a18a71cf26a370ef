import { readFile, stat } from 'node:fs/promises';
import type { StoreConfig } from '../../rules/types.js';
import type { StoreBackend } from './backend.js';

// A connection string is a line of text; a larger file is the wrong file.
const URL_FILE_BYTES_MAX = 4096;

// The backend gateway.yaml's `store` names, with the PostgreSQL connection string read
// from its file now (only the inner side reads it). `epoch`: the fencing token of the
// active box of a pair, when it runs as one.
export async function configuredBackend(config: StoreConfig, epoch?: string): Promise<StoreBackend> {
  if (config.backend === 'leveldb') return { kind: 'leveldb' };
  const file = config.postgres.urlFile;
  let url: string;
  try {
    if ((await stat(file)).size > URL_FILE_BYTES_MAX) throw new Error(`larger than ${URL_FILE_BYTES_MAX} bytes`);
    url = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`gateway.yaml store.postgres.urlFile: cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`gateway.yaml store.postgres.urlFile: ${file} must hold a connection string postgresql://user:password@host:port/database`);
  }
  return { kind: 'postgres', url, ...(epoch !== undefined ? { epoch } : {}) };
}
