// The tree a release installs as /opt/ferry, the same in the .deb and the tarball: the
// compiled code, bin/, docs/, deploy/keepalived, package.json, its own Node.js in node/,
// the production node_modules, and release.json (what this release is). No tests, no
// devDependencies.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Arch } from './arch.js';
import type { BundledNode } from './node-runtime.js';
import { copyProductionModules } from './production-modules.js';

export interface ReleaseInfo {
  name: 'ferry';
  version: string;
  commit: string;
  arch: Arch;
  node: string;
}

const DIST_PARTS = ['runtime', 'devices', 'sim'];

export function releaseInfo(projectDir: string, arch: Arch, node: BundledNode, version?: string): ReleaseInfo {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as { version: string };
  const infoFile = path.join(projectDir, 'dist/build-info.json');
  if (!fs.existsSync(infoFile)) throw new Error('dist/build-info.json is missing: run npm run build first (npm run release does)');
  const { commit } = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { commit: string };
  const v = version ?? pkg.version;
  if (!/^\d+\.\d+\.\d+([~+.-][0-9A-Za-z.~+-]*)?$/.test(v)) throw new Error(`version "${v}" is not of the form 1.2.3`);
  return { name: 'ferry', version: v, commit, arch, node: node.version };
}

// Writes the tree into dest (which must not exist) and returns the number of packages
// in its node_modules.
export function stageApp(projectDir: string, dest: string, info: ReleaseInfo, node: BundledNode): number {
  for (const part of DIST_PARTS) {
    const from = path.join(projectDir, 'dist', part);
    if (!fs.existsSync(from)) throw new Error(`dist/${part} is missing: run npm run build first`);
    fs.cpSync(from, path.join(dest, 'dist', part), { recursive: true });
  }
  fs.copyFileSync(path.join(projectDir, 'dist/build-info.json'), path.join(dest, 'dist/build-info.json'));
  fs.cpSync(path.join(projectDir, 'bin'), path.join(dest, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(projectDir, 'deploy/release/ferry'), path.join(dest, 'bin/ferry'));
  fs.chmodSync(path.join(dest, 'bin/ferry'), 0o755);
  fs.cpSync(path.join(projectDir, 'docs'), path.join(dest, 'docs'), { recursive: true });
  // For a box of an active/standby pair: keepalived's example file and check script
  // (docs/ha.md); nothing runs them unless the operator sets keepalived up.
  fs.cpSync(path.join(projectDir, 'deploy/keepalived'), path.join(dest, 'deploy/keepalived'), { recursive: true });
  fs.mkdirSync(path.join(dest, 'node/bin'), { recursive: true });
  fs.copyFileSync(node.binary, path.join(dest, 'node/bin/node'));
  fs.chmodSync(path.join(dest, 'node/bin/node'), 0o755);
  fs.copyFileSync(path.join(node.dir, 'LICENSE'), path.join(dest, 'node/LICENSE'));
  const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  // The installed package.json: what the runtime reads (its version, "type": "module").
  const { scripts: _s, devDependencies: _d, allowScripts: _a, ...kept } = pkg;
  fs.writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify({ ...kept, version: info.version }, null, 2)}\n`);
  fs.writeFileSync(path.join(dest, 'release.json'), `${JSON.stringify(info, null, 2)}\n`);
  const packages = copyProductionModules(projectDir, dest, info.arch);
  // Files as root would install them: readable by all, executable where they were.
  execFileSync('chmod', ['-R', 'u+rwX,go+rX,go-w', dest]);
  return packages;
}
