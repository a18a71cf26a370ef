// ferry-<version>-linux-<arch>.tar.gz: for hosts that are not Debian (and for Debian
// too). One directory holding install.sh, release.json, app/ (installed as /opt/ferry)
// and what install.sh makes the rest from: the example rules and deploy/ (units,
// sysctl drop-in, netns.env). `install.sh --from` installs it with no network.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ReleaseInfo } from './app.js';

export function tarballName(info: ReleaseInfo): string {
  return `ferry-${info.version}-linux-${info.arch}`;
}

export function buildTarball(o: { projectDir: string; app: string; work: string; outDir: string; info: ReleaseInfo }): string {
  const name = tarballName(o.info);
  const top = path.join(o.work, name);
  fs.mkdirSync(top);
  execFileSync('cp', ['-al', o.app, path.join(top, 'app')]); // hard links: the .deb's tree is the same files
  fs.copyFileSync(path.join(o.projectDir, 'install.sh'), path.join(top, 'install.sh'));
  fs.chmodSync(path.join(top, 'install.sh'), 0o755);
  fs.copyFileSync(path.join(o.app, 'release.json'), path.join(top, 'release.json'));
  fs.cpSync(path.join(o.projectDir, 'rules'), path.join(top, 'rules'), { recursive: true });
  for (const part of ['systemd', 'sysctl', 'etc']) fs.cpSync(path.join(o.projectDir, 'deploy', part), path.join(top, 'deploy', part), { recursive: true });
  execFileSync('chmod', ['-R', 'u+rwX,go+rX,go-w', top]);
  const out = path.join(o.outDir, `${name}.tar.gz`);
  // gzip -1: a quick build; the node binary and the classic-level prebuild compress
  // little better at -9.
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-I', 'gzip -1', '-cf', `${out}.tmp`, '-C', o.work, name]);
  fs.renameSync(`${out}.tmp`, out);
  return out;
}
