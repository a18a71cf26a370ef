import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { StoreError } from './errors.js';
import { LEVEL_BLOCK_BYTES } from './limits.js';

export function storePath(dataDir: string): string {
  return join(dataDir, 'store');
}

// Opens the LevelDB under `dataDir`, turning the two failures an operator meets into
// errors that say what to do.
export async function openLevel(dataDir: string, createIfMissing: boolean): Promise<Level<string, unknown>> {
  const path = storePath(dataDir);
  if (!createIfMissing && !(await exists(join(path, 'CURRENT')))) {
    throw new StoreError('STORE_MISSING', `there is no store at ${path}`);
  }
  const db = new Level<string, unknown>(path, { valueEncoding: 'json', createIfMissing, blockSize: LEVEL_BLOCK_BYTES });
  try {
    await db.open();
  } catch (err) {
    throw openError(path, err);
  }
  return db;
}

function openError(path: string, err: unknown): Error {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') {
    return new StoreError('STORE_LOCKED', `the store at ${path} is locked by another process: stop the gateway (ferry) first`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
