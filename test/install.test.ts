// install.sh: run with --root into a temporary directory, as CI can, so that
// nothing on the host is touched. It runs from a snapshot of the source tree, because
// other builds may rewrite dist/ while this suite runs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { PROJECT_DIR, tempDir } from './helpers/gateway.js';
import { SIDE_EXIT } from '../runtime/common/side-exit.js';
import { SIDE_NODE_FLAGS } from '../runtime/common/node-flags.js';

// npm ci of the production dependencies takes a few seconds; a hung one is killed.
const INSTALL_TIMEOUT_MS = 180_000;
const COMMAND_TIMEOUT_MS = 30_000;
const SNAPSHOT = ['install.sh', 'deploy', 'rules', 'bin', 'docs', 'package.json', 'package-lock.json', 'dist/runtime', 'dist/devices', 'dist/sim'];
const UNITS = ['ferry-netns.service', 'ferry-firewall.service', 'ferry-inner.service', 'ferry-outer.service', 'ferry.target'];

let src: string;
let root: string;
const dirs: string[] = [];

function installSh(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const run = spawnSync('bash', [path.join(src, 'install.sh'), ...args], { encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS, env });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function installed(args: string[] = []) {
  const run = installSh(['--root', root, ...args]);
  assert.is(run.status, 0, `install.sh ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  return run;
}

const at = (p: string) => path.join(root, p);
const read = (p: string) => fs.readFileSync(at(p), 'utf8');

// Every entry under the root: type, mode, mtime, and content hash or link target.
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const full = path.join(dir, rel);
    const st = fs.lstatSync(full);
    const base = `${rel} ${st.mode.toString(8)} ${st.mtimeMs}`;
    if (st.isSymbolicLink()) out.push(`l ${base} -> ${fs.readlinkSync(full)}`);
    else if (st.isFile()) out.push(`f ${base} ${createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`);
    else if (st.isDirectory()) {
      out.push(`d ${base}`);
      for (const name of fs.readdirSync(full).sort()) walk(path.join(rel, name));
    }
  };
  walk('.');
  return out;
}

test.before(() => {
  src = tempDir('install-src');
  root = tempDir('install-root');
  dirs.push(src, root);
  for (const part of SNAPSHOT) fs.cpSync(path.join(PROJECT_DIR, part), path.join(src, part), { recursive: true });
  // Written by `npm run build`; a bare tsc build has none, and the version says "unknown".
  const info = path.join(PROJECT_DIR, 'dist/build-info.json');
  if (fs.existsSync(info)) fs.copyFileSync(info, path.join(src, 'dist/build-info.json'));
  installed();
});

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('install.sh --root puts the app, rules, data directory, units and sysctl drop-in under the root', () => {
  for (const p of ['opt/ferry/dist/runtime/inner/main.js', 'opt/ferry/dist/runtime/outer/main.js', 'opt/ferry/bin/ferry.js',
    'opt/ferry/package.json', 'opt/ferry/package-lock.json', 'etc/ferry/gateway.yaml', 'etc/ferry/devices.yaml',
    'etc/ferry/messages.yaml', 'etc/ferry/roles.yaml', 'etc/ferry/payment.secret', 'etc/ferry/netns.env', 'etc/sysctl.d/60-ferry.conf',
    ...UNITS.map((u) => `etc/systemd/system/${u}`)]) {
    assert.ok(fs.existsSync(at(p)), `${p} is installed`);
  }
  assert.ok(fs.statSync(at('var/lib/ferry')).isDirectory(), 'the data directory exists');
  assert.is(fs.statSync(at('var/lib/ferry')).mode & 0o777, 0o750);
  assert.is(fs.statSync(at('etc/ferry')).mode & 0o777, 0o750);
  assert.is(fs.statSync(at('etc/ferry/payment.secret')).mode & 0o077, 0o040, 'the secret is not readable by others');
  assert.is(fs.readlinkSync(at('usr/local/bin/ferry')), '/opt/ferry/bin/ferry.js');
  assert.not.ok(fs.existsSync(at('opt/ferry/dist/test')), 'no tests in production');
  assert.ok(fs.existsSync(at('opt/ferry/node_modules/aedes/package.json')), 'production dependencies are installed');
  for (const dev of ['typescript', 'uvu']) assert.not.ok(fs.existsSync(at(`opt/ferry/node_modules/${dev}`)), `${dev} (dev only) is not`);
  assert.match(read('etc/sysctl.d/60-ferry.conf'), /^net\.ipv4\.ip_forward = 0$/m);
  assert.match(read('etc/sysctl.d/60-ferry.conf'), /^net\.ipv6\.conf\.all\.forwarding = 0$/m);
});

test('the inner and outer units run each side from /opt/ferry with hardening, and the inner one reloads on SIGHUP', () => {
  for (const side of ['inner', 'outer'] as const) {
    const unit = read(`etc/systemd/system/ferry-${side}.service`);
    // The side's V8 flags are the ones every other launcher takes from the table.
    const flags = SIDE_NODE_FLAGS[side].map((f) => `${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `).join('');
    assert.match(unit, new RegExp(`^ExecStart=/\\S*node ${flags}/opt/ferry/dist/runtime/${side}/main\\.js --rules /etc/ferry --data /var/lib/ferry$`, 'm'));
    for (const line of ['User=ferry', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'Requires=ferry-netns.service ferry-firewall.service']) {
      assert.ok(unit.split('\n').includes(line), `ferry-${side}.service has ${line}`);
    }
    assert.match(unit, new RegExp(`^NetworkNamespacePath=/run/netns/ferry-${side === 'inner' ? 'medical' : 'payment'}$`, 'm'));
  }
  const inner = read('etc/systemd/system/ferry-inner.service');
  assert.match(inner, /^ReadWritePaths=\/var\/lib\/ferry$/m);
  assert.match(inner, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  const outer = read('etc/systemd/system/ferry-outer.service');
  assert.match(outer, /^InaccessiblePaths=-\/var\/lib\/ferry\/store$/m, 'the payment side cannot read the store');
  assert.ok(fs.statSync(at('var/lib/ferry/store')).isDirectory(), 'the store directory exists before the first start, so that it is hidden');
  const firewall = read('etc/systemd/system/ferry-firewall.service');
  assert.match(firewall, /^ExecStart=\S+ \/opt\/ferry\/bin\/ferry\.js firewall apply --rules \/etc\/ferry$/m);
  assert.match(firewall, /^Before=.*ferry-inner\.service ferry-outer\.service/m);
});

test('both sides run as Type=notify units with a watchdog, and a taken port is not retried', () => {
  for (const side of ['inner', 'outer']) {
    const lines = read(`etc/systemd/system/ferry-${side}.service`).split('\n');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=20s', 'Restart=on-failure']) {
      assert.ok(lines.includes(line), `ferry-${side}.service has ${line}`);
    }
    const prevent = lines.find((l) => l.startsWith('RestartPreventExitStatus='))?.split('=')[1]?.split(' ') ?? [];
    assert.ok(prevent.includes(String(SIDE_EXIT.cannotListen)), `ferry-${side}.service does not restart after exit ${SIDE_EXIT.cannotListen}`);
  }
  assert.ok(read('etc/systemd/system/ferry-outer.service').split('\n').includes(`RestartPreventExitStatus=${SIDE_EXIT.noPaymentServer} ${SIDE_EXIT.cannotListen}`));
});

test('the installed ferry defaults to /etc/ferry and /var/lib/ferry, a checkout to ./rules and ./data, and FERRY_RULES overrides both', () => {
  const installedFerry = at('opt/ferry/bin/ferry.js');
  const help = (ferry: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const { FERRY_RULES: _r, FERRY_DATA: _d, ...clean } = process.env;
    return spawnSync(process.execPath, [ferry, ...args], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, cwd: root, env: { ...clean, ...env } });
  };
  for (const args of [['start', '--help'], ['audit', 'verify', '--help'], ['query', '--help']]) {
    const out = help(installedFerry, args).stdout;
    assert.match(out, /\(default \/etc\/ferry\)/, `installed: ferry ${args.join(' ')}`);
  }
  assert.match(help(installedFerry, ['start', '--help']).stdout, /\(default \/var\/lib\/ferry\)/);
  assert.match(help(installedFerry, ['audit', 'verify', '--help']).stdout, /\(default \/var\/lib\/ferry\)/);
  const checkout = help(path.join(PROJECT_DIR, 'bin/ferry.js'), ['start', '--help']).stdout;
  assert.match(checkout, /\(default \.\/rules\)/);
  assert.match(checkout, /\(default \.\/data\)/);
  // Without a directory, `rules check` reads the default: the environment's, when set.
  const viaEnv = help(installedFerry, ['rules', 'check'], { FERRY_RULES: at('etc/ferry') });
  assert.is(viaEnv.status, 0, viaEnv.stderr);
  assert.match(help(installedFerry, ['start', '--help'], { FERRY_DATA: '/srv/ferry' }).stdout, /\(default \/srv\/ferry\)/);
  assert.equal(JSON.parse(read('opt/ferry/install/paths.json')), { rules: '/etc/ferry', data: '/var/lib/ferry' });
});

test('the installed ferry reports the same version and commit as the tree it was installed from', () => {
  const version = (ferry: string) => spawnSync(process.execPath, [ferry, '--version'], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS }).stdout;
  const installed = version(at('opt/ferry/bin/ferry.js'));
  assert.match(installed, /^ferry \d+\.\d+\.\d+\S* \(\S+\)\n$/);
  assert.is(installed, version(path.join(PROJECT_DIR, 'bin/ferry.js')));
});

test('the installed units pass systemd-analyze verify without a warning', () => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    console.log('  (skipped: systemd-analyze is not installed here; the unit files were checked by the test above only)');
    return;
  }
  const dir = at('etc/systemd/system');
  const run = spawnSync('systemd-analyze', ['verify', ...UNITS.map((u) => path.join(dir, u))], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, cwd: dir });
  assert.is(run.status, 0, run.stderr);
  // verify exits 0 on unknown keys and bad values: it only warns, so warnings fail here.
  assert.is(run.stderr.trim(), '', run.stderr);
});

test('a fresh install has no enabled device, no demo secret, and rule files that load', () => {
  const devices = (YAML.parse(read('etc/ferry/devices.yaml')) as { devices: { disabled?: boolean }[] }).devices;
  assert.equal(devices.filter((d) => d.disabled !== true), []);
  assert.not.match(read('etc/ferry/gateway.yaml'), /DEMO-ONLY/);
  assert.match(read('etc/ferry/gateway.yaml'), /^ {2}secretFile: payment\.secret/m);
  const check = spawnSync(process.execPath, [at('opt/ferry/bin/ferry.js'), 'rules', 'check', at('etc/ferry')], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  assert.is(check.status, 0, `the installed ferry accepts the installed rules:\n${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /0 devices/);
});

test('a second run changes nothing: same entries, modes, mtimes and contents', () => {
  const before = listing(root);
  const run = installed();
  assert.match(run.stdout, /nothing changed/);
  assert.equal(listing(root), before);
});

test('an operator-edited rule file is kept, its new version goes beside it, and an unedited one is upgraded', () => {
  fs.appendFileSync(at('etc/ferry/roles.yaml'), '# edited by the operator\n');
  const edited = read('etc/ferry/roles.yaml');
  fs.appendFileSync(path.join(src, 'rules/roles.yaml'), '# a new release\n');
  fs.appendFileSync(path.join(src, 'rules/messages.yaml'), '# a new release\n');
  const run = installed();
  assert.match(run.stdout, /kept your \/etc\/ferry\/roles\.yaml/);
  assert.is(read('etc/ferry/roles.yaml'), edited, 'the edit is kept');
  assert.is(read('etc/ferry/roles.yaml.dist'), fs.readFileSync(path.join(src, 'rules/roles.yaml'), 'utf8'), 'the new version is beside it');
  assert.is(read('etc/ferry/messages.yaml'), fs.readFileSync(path.join(src, 'rules/messages.yaml'), 'utf8'), 'an unedited file follows the release');
  const again = listing(root);
  installed();
  assert.equal(listing(root), again, 'and a further run changes nothing');
});

test('--uninstall removes what it installed and keeps operator edits and the data', () => {
  fs.writeFileSync(at('var/lib/ferry/marker'), 'data');
  installed(['--uninstall']);
  for (const p of ['opt/ferry', 'usr/local/bin/ferry', 'etc/sysctl.d/60-ferry.conf', 'etc/ferry/messages.yaml', 'etc/ferry/devices.yaml',
    'etc/ferry/roles.yaml.dist', 'etc/ferry/payment.secret', ...UNITS.map((u) => `etc/systemd/system/${u}`)]) {
    assert.not.ok(fs.existsSync(at(p)), `${p} is removed`);
  }
  assert.ok(read('etc/ferry/roles.yaml').includes('# edited by the operator'), 'the edited rule file is kept');
  assert.is(read('var/lib/ferry/marker'), 'data', 'the data is kept');
});

test('install.sh refuses an old Node.js with a clear message', () => {
  const bin = tempDir('old-node');
  dirs.push(bin);
  fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\ncase "$1" in -p) echo 18 ;; *) echo v18.20.0 ;; esac\n', { mode: 0o755 });
  const other = tempDir('install-root-old');
  dirs.push(other);
  const run = installSh(['--root', other], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  assert.is(run.status, 1);
  assert.match(run.stderr, /Node\.js 20 or later is required/);
  assert.not.ok(fs.existsSync(path.join(other, 'opt/ferry')), 'nothing installed');
});

test.run();
