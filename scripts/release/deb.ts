// ferry_<version>_<debian-arch>.deb, built with dpkg-deb from a staged tree:
//   /opt/ferry            the release's app tree (the same files as the tarball's app/)
//   /etc/ferry            the rule files a fresh installation gets, as conffiles (dpkg
//                         keeps an operator's edit on upgrade), from install.sh --stage-rules
//   /lib/systemd/system   the units, running /opt/ferry/node/bin/node
//   /usr/lib/sysctl.d     IP forwarding off
//   /usr/bin/ferry        the command, on the release's Node.js
// and deploy/debian's maintainer scripts: the ferry user, /var/lib/ferry, the placeholder
// secrets, the restart of running sides across an upgrade.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ARCHES } from './arch.js';
import type { ReleaseInfo } from './app.js';

const APP = '/opt/ferry';
const NODE = `${APP}/node/bin/node`;
const DEFAULT_MAINTAINER = 'Ferry release engineering <release@ferry.invalid>';
const UNITS = ['ferry-netns.service', 'ferry-firewall.service', 'ferry-inner.service', 'ferry-outer.service', 'ferry.target'];

export function debName(info: ReleaseInfo): string {
  return `ferry_${info.version}_${ARCHES[info.arch].debian}.deb`;
}

export function buildDeb(o: { projectDir: string; app: string; work: string; outDir: string; info: ReleaseInfo; date: Date }): string {
  const root = path.join(o.work, 'deb');
  const at = (p: string) => path.join(root, p);
  fs.mkdirSync(path.dirname(at(APP)), { recursive: true });
  execFileSync('cp', ['-al', o.app, at(APP)]);
  fs.mkdirSync(at(`${APP}/install`));
  fs.writeFileSync(at(`${APP}/install/paths.json`), `${JSON.stringify({ rules: '/etc/ferry', data: '/var/lib/ferry' })}\n`);

  // The rule files, made by the same code as install.sh's (no demo device, no demo secret).
  const secrets = execFileSync('bash', [path.join(o.projectDir, 'install.sh'), '--stage-rules', at('etc/ferry')], { encoding: 'utf8' })
    .split('\n').filter(Boolean);
  fs.mkdirSync(at('etc/ferry/tls'));
  fs.chmodSync(at('etc/ferry'), 0o750);
  fs.chmodSync(at('etc/ferry/tls'), 0o750);
  const conffiles = fs.readdirSync(at('etc/ferry')).filter((f) => fs.statSync(at(`etc/ferry/${f}`)).isFile()).sort();
  for (const f of conffiles) fs.chmodSync(at(`etc/ferry/${f}`), 0o640);

  fs.mkdirSync(at('lib/systemd/system'), { recursive: true });
  for (const unit of UNITS) {
    const src = path.join(o.projectDir, 'deploy/systemd', unit);
    const text = fs.existsSync(`${src}.in`) ? fs.readFileSync(`${src}.in`, 'utf8').replaceAll('@NODE@', NODE) : fs.readFileSync(src, 'utf8');
    fs.writeFileSync(at(`lib/systemd/system/${unit}`), text, { mode: 0o644 });
  }
  fs.mkdirSync(at('usr/lib/sysctl.d'), { recursive: true });
  fs.copyFileSync(path.join(o.projectDir, 'deploy/sysctl/60-ferry.conf'), at('usr/lib/sysctl.d/60-ferry.conf'));
  fs.mkdirSync(at('usr/bin'), { recursive: true });
  fs.symlinkSync(`${APP}/bin/ferry`, at('usr/bin/ferry'));

  const maintainer = packageField(o.projectDir, 'author') ?? DEFAULT_MAINTAINER;
  const doc = at('usr/share/doc/ferry');
  fs.mkdirSync(doc, { recursive: true });
  fs.copyFileSync(path.join(o.projectDir, 'deploy/debian/copyright'), path.join(doc, 'copyright'));
  const changelog = `ferry (${o.info.version}) stable; urgency=medium\n\n  * Release ${o.info.version}, commit ${o.info.commit}, on Node.js ${o.info.node}.\n    The changes are in /opt/ferry/docs/upgrade.md.\n\n -- ${maintainer}  ${o.date.toUTCString().replace('GMT', '+0000')}\n`;
  fs.writeFileSync(path.join(doc, 'changelog.gz'), zlib.gzipSync(changelog, { level: 9 }));
  fs.mkdirSync(at('usr/share/lintian/overrides'), { recursive: true });
  fs.copyFileSync(path.join(o.projectDir, 'deploy/debian/lintian-overrides'), at('usr/share/lintian/overrides/ferry'));

  const control = at('DEBIAN');
  fs.mkdirSync(control);
  const fill = (text: string) => text
    .replaceAll('@VERSION@', o.info.version).replaceAll('@DEB_ARCH@', ARCHES[o.info.arch].debian).replaceAll('@MAINTAINER@', maintainer)
    .replaceAll('@NODE_VERSION@', o.info.node).replaceAll('@SECRETS@', secrets.join(' '))
    .replaceAll('@INSTALLED_SIZE@', String(installedSizeKiB(root)));
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const src = path.join(o.projectDir, 'deploy/debian', script);
    const text = fs.existsSync(`${src}.in`) ? fill(fs.readFileSync(`${src}.in`, 'utf8')) : fs.readFileSync(src, 'utf8');
    fs.writeFileSync(path.join(control, script), text, { mode: 0o755 });
  }
  fs.writeFileSync(path.join(control, 'control'), fill(fs.readFileSync(path.join(o.projectDir, 'deploy/debian/control.in'), 'utf8')));
  fs.writeFileSync(path.join(control, 'conffiles'), conffiles.map((f) => `/etc/ferry/${f}\n`).join(''));
  fs.writeFileSync(path.join(control, 'md5sums'), md5sums(root));

  const out = path.join(o.outDir, debName(o.info));
  // gzip -1: quick to build and to install, and every dpkg reads it.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', root, `${out}.tmp`], { stdio: ['ignore', 'ignore', 'inherit'] });
  fs.renameSync(`${out}.tmp`, out);
  return out;
}

function packageField(projectDir: string, name: string): string | undefined {
  const value = (JSON.parse(fs.readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as Record<string, unknown>)[name];
  return typeof value === 'string' && value ? value : undefined;
}

// As dpkg-gencontrol counts it: each file's size in KiB, rounded up, and 1 per directory.
function installedSizeKiB(root: string): number {
  let kib = 0;
  for (const rel of walk(root)) {
    if (rel.startsWith('DEBIAN')) continue;
    const st = fs.lstatSync(path.join(root, rel));
    kib += st.isFile() ? Math.ceil(st.size / 1024) : 1;
  }
  return kib;
}

function md5sums(root: string): string {
  return walk(root).filter((rel) => !rel.startsWith('DEBIAN') && fs.lstatSync(path.join(root, rel)).isFile())
    .map((rel) => `${createHash('md5').update(fs.readFileSync(path.join(root, rel))).digest('hex')}  ${rel}\n`).join('');
}

function walk(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).sort();
}
