// Before packing: the native files of the staged tree are all for the target
// architecture (file(1) on the Node.js binary and every .node addon), so an arm64 release
// assembled on x64 carries no x64 binary, and none is missing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ARCHES, type Arch } from './arch.js';

export interface NativeFile {
  file: string; // relative to the app tree
  type: string; // file(1)'s description
}

export function nativeFiles(app: string): NativeFile[] {
  const rels = (fs.readdirSync(app, { recursive: true }) as string[]).filter((rel) => rel === 'node/bin/node' || rel.endsWith('.node')).sort();
  return rels.map((file) => ({ file, type: execFileSync('file', ['-b', path.join(app, file)], { encoding: 'utf8' }).trim() }));
}

export function checkArtifact(app: string, arch: Arch): NativeFile[] {
  const found = nativeFiles(app);
  const wrong = found.filter((n) => !ARCHES[arch].fileType.test(n.type));
  if (wrong.length > 0) throw new Error(`not ${arch}: ${wrong.map((n) => `${n.file} (${n.type})`).join('; ')}`);
  for (const needed of ['node/bin/node', 'node_modules/classic-level/prebuilds/']) {
    if (!found.some((n) => n.file.startsWith(needed))) throw new Error(`no ${needed} for ${arch} in the release`);
  }
  return found;
}
