// Which Ferry this is: the version from package.json and the commit it was built from,
// which `npm run build` writes to dist/build-info.json (scripts/write-build-info.mjs).
// Both files sit at fixed places relative to this one, in a checkout as in /opt/ferry.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string;
}

const PACKAGE_JSON = fileURLToPath(new URL('../../../package.json', import.meta.url));
const BUILD_INFO_JSON = fileURLToPath(new URL('../../build-info.json', import.meta.url));

let cached: BuildInfo | undefined;

// Never throws: a missing or damaged file reads as "unknown", as a version line must
// not stop a gateway from starting.
export function buildInfo(): BuildInfo {
  cached ??= { version: field(PACKAGE_JSON, 'version'), commit: field(BUILD_INFO_JSON, 'commit') };
  return cached;
}

export function versionLine(): string {
  const { version, commit } = buildInfo();
  return `ferry ${version} (${commit})`;
}

function field(file: string, name: string): string {
  try {
    const value = (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>)[name];
    return typeof value === 'string' && /^[\w.+-]{1,64}$/.test(value) ? value : 'unknown';
  } catch {
    return 'unknown';
  }
}
