// The production dependencies a release carries, copied from the build machine's
// node_modules: the packages package-lock.json does not mark as development-only, each at
// the version the lock file names (a node_modules that does not match is refused: run
// `npm ci`). Copying needs no registry, and classic-level brings a prebuilt binary for
// every platform, so an arm64 release is assembled on x64 by keeping only the target's.
import fs from 'node:fs';
import path from 'node:path';
import { ARCHES, type Arch } from './arch.js';

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
}

// Packages whose native part is a prebuild chosen at run time (node-gyp-build): only the
// target's directory is kept, and a local build/ is never shipped (it would be loaded
// first, and it is for the build machine's architecture).
const PREBUILT = ['node_modules/classic-level'];

export function productionPackages(projectDir: string): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(projectDir, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json is older than lockfileVersion 2: run npm install with npm 7 or later');
  const out: string[] = [];
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (!where.startsWith('node_modules/') || entry.dev || entry.devOptional) continue;
    if (entry.link) throw new Error(`${where} is a link in package-lock.json; a release carries real packages only`);
    const manifest = path.join(projectDir, where, 'package.json');
    if (!fs.existsSync(manifest)) {
      if (entry.optional) continue; // an optional dependency for another platform
      throw new Error(`${where} is missing from node_modules: run npm ci`);
    }
    const installed = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string }).version;
    if (installed !== entry.version) throw new Error(`${where} is ${installed} in node_modules but ${entry.version} in package-lock.json: run npm ci`);
    out.push(where);
  }
  return out.sort();
}

// Copies each production package (without its nested node_modules, which are packages
// of their own in the lock file) into dest/node_modules.
export function copyProductionModules(projectDir: string, dest: string, arch: Arch): number {
  const packages = productionPackages(projectDir);
  for (const where of packages) {
    const from = fs.realpathSync(path.join(projectDir, where));
    const prebuilt = PREBUILT.includes(where);
    fs.cpSync(from, path.join(dest, where), {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(from, src).split(path.sep);
        if (rel[0] === 'node_modules') return false;
        if (prebuilt && rel[0] === 'build') return false;
        if (prebuilt && rel[0] === 'prebuilds' && rel[1] !== undefined && rel[1] !== ARCHES[arch].prebuilds) return false;
        return true;
      },
    });
  }
  return packages.length;
}
