import { join } from 'node:path';
import { Level } from 'level';
import { StoreError } from './errors.js';

export function storePath(dataDir: string): string {
  return join(dataDir, 'store');
}

// Opens the LevelDB under `dataDir`, turning the two failures an operator meets into
// errors that say what to do.
export async function openLevel(dataDir: string, createIfMissing: boolean): Promise<Level<string, unknown>> {
  const path = storePath(dataDir);
  const db = new Level<string, unknown>(path, { valueEncoding: 'json', createIfMissing });
  try {
    await db.open();
  } catch (err) {
    throw openError(path, err);
  }
  return db;
}

function openError(path: string, err: unknown): Error {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause?.code === 'LEVEL_LOCKED') {
    return new StoreError('STORE_LOCKED', `the store at ${path} is locked by another process: stop the gateway (ferry) first`, { cause: err });
  }
  if (typeof cause?.message === 'string' && cause.message.includes('does not exist')) {
    return new StoreError('STORE_MISSING', `there is no store at ${path}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
