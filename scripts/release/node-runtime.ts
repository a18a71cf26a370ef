// The Node.js binary a release carries, from the registry's node-linux-<arch> package
// (deploy/release/node-runtime.json pins the version and the registry's integrity).
// Downloaded once into a cache directory with `npm pack` and checked against the pinned
// integrity; later builds, the release test and CI's second test run use the cached copy
// and need no network.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES, type Arch } from './arch.js';

export const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUNTIME_FILE = path.join(PROJECT_DIR, 'deploy/release/node-runtime.json');
// FERRY_RELEASE_CACHE moves it (CI keeps one across runs).
export const DEFAULT_CACHE = process.env.FERRY_RELEASE_CACHE || path.join(PROJECT_DIR, '.cache/release');
const NPM_TIMEOUT_MS = 300_000;

interface RuntimePin {
  version: string;
  packages: Record<Arch, { name: string; integrity: string }>;
}

export interface BundledNode {
  arch: Arch;
  version: string;
  dir: string; // holds bin/node and LICENSE
  binary: string;
}

export function runtimePin(): RuntimePin {
  return JSON.parse(fs.readFileSync(RUNTIME_FILE, 'utf8')) as RuntimePin;
}

export function bundledNode(arch: Arch, cacheDir = DEFAULT_CACHE): BundledNode {
  const pin = runtimePin();
  const { name, integrity } = pin.packages[arch];
  const dir = path.join(cacheDir, `node-v${pin.version}-linux-${arch}`);
  const result = { arch, version: pin.version, dir, binary: path.join(dir, 'bin/node') };
  if (fs.existsSync(result.binary)) return result;

  fs.mkdirSync(cacheDir, { recursive: true });
  const tgz = path.join(cacheDir, `${name}-${pin.version}.tgz`);
  if (!fs.existsSync(tgz) || sri(tgz) !== integrity) {
    execFileSync('npm', ['pack', `${name}@${pin.version}`, '--pack-destination', cacheDir, '--silent', '--no-fund', '--no-audit'],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: NPM_TIMEOUT_MS });
  }
  const got = sri(tgz);
  if (got !== integrity) {
    fs.rmSync(tgz, { force: true });
    throw new Error(`${name}@${pin.version} from the registry has integrity ${got}, not the ${integrity} pinned in ${RUNTIME_FILE}: not used`);
  }
  // Only the binary and its licence: the package also holds headers, npm and docs.
  const tmp = fs.mkdtempSync(path.join(cacheDir, '.extract-'));
  try {
    execFileSync('tar', ['-xzf', tgz, '-C', tmp, 'package/bin/node', 'package/LICENSE'], { stdio: 'inherit' });
    const type = execFileSync('file', ['-b', path.join(tmp, 'package/bin/node')], { encoding: 'utf8' });
    if (!ARCHES[arch].fileType.test(type)) throw new Error(`${name}@${pin.version}: bin/node is "${type.trim()}", not a ${arch} binary`);
    fs.renameSync(path.join(tmp, 'package'), dir); // whole or not at all, for a build running beside this one
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

function sri(file: string): string {
  return `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}
