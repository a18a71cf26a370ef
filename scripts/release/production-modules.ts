// The production dependencies a release carries, copied from the build machine's
// node_modules: the packages package-lock.json does not mark as development-only, each at
// the version the lock file names (a node_modules that does not match is refused: run
// `npm ci`). Copying needs no registry, and classic-level brings a prebuilt binary for
// every platform, so an arm64 release is assembled on x64 by keeping only the target's.
import { execFileSync } from 'node:child_process';
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

// What no production process reads: the packages' own tests, benchmarks and CI files,
// documentation pages, type declarations and source maps. Licence files always stay.
const UNUSED_DIRS = new Set(['test', 'tests', '__tests__', 'benchmark', 'benchmarks', 'example', 'examples', '.github']);
const UNUSED_FILE = /(^\.(npmignore|eslintrc.*|gitattributes|gitignore|editorconfig|travis\.yml|nycrc.*|taprc|prettierrc.*)$)|\.(md|markdown|html|d\.ts|d\.mts|d\.cts|map)$/i;
const LICENCE = /^(licen[cs]e|copying|notice|authors)/i;

function unused(rel: string[], isDir: boolean): boolean {
  const name = rel[rel.length - 1]!;
  if (isDir) return UNUSED_DIRS.has(name);
  return UNUSED_FILE.test(name) && !LICENCE.test(name);
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
        // The release's Node.js is built against glibc: a musl build would never load.
        if (prebuilt && rel[0] === 'prebuilds' && rel[2]?.includes('.musl.')) return false;
        return rel[0] === '' || !unused(rel, fs.lstatSync(src).isDirectory());
      },
    });
  }
  // Nothing in node_modules is run as a program (the code is loaded by the release's
  // node): no file keeps an executable bit.
  execFileSync('chmod', ['-R', 'u+rw,go-w,a+r,a-x,a+X', path.join(dest, 'node_modules')]);
  return packages.length;
}
