// Reads the PEM files that gateway.yaml names (paths relative to the rules directory).
// Both sides use it: the inner side for the broker's TLS listener, the outer side for
// mutual TLS toward the payment server. Files are read whole, so each has a bound.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

// A CA bundle of a few hundred certificates stays well below this; a larger file is
// not a PEM file someone meant to give us.
export const TLS_FILE_BYTES_MAX = 1024 * 1024;

export interface PemPaths {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface PemFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function readPemFile(rulesDir: string, file: string): Buffer {
  const full = resolve(rulesDir, file);
  const size = statSync(full).size;
  if (size > TLS_FILE_BYTES_MAX) throw new Error(`${full} is larger than ${TLS_FILE_BYTES_MAX} bytes`);
  return readFileSync(full);
}

export function readPemFiles(rulesDir: string, paths: PemPaths): PemFiles {
  const out: PemFiles = {};
  for (const key of ['ca', 'cert', 'key'] as const) {
    const file = paths[key];
    if (file !== undefined) out[key] = readPemFile(rulesDir, file);
  }
  return out;
}
