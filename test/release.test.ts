// The release artifacts (npm run release): built here for x64, then installed the way a
// hospital box gets them, with no network at all: each install and each command below runs
// in a network namespace of its own (unshare -n: only a loopback that is down, no route),
// with a `node` and an `npm` on PATH that fail when called, so that anything reaching for
// the host's Node.js or the registry fails the test.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { DeviceClient } from '../devices/client.js';
import { canConnect, freePort } from '../sim/gateway-processes.js';
import { buildRelease, type Artifact } from '../scripts/release/main.js';
import { releaseInfo, stageApp } from '../scripts/release/app.js';
import { checkArtifact } from '../scripts/release/check.js';
import { bundledNode, runtimePin } from '../scripts/release/node-runtime.js';
import { SIDE_NODE_FLAGS } from '../runtime/common/node-flags.js';
import { PROJECT_DIR, sampleItems, sampleTotal, tempDir, waitFor } from './helpers/gateway.js';

const VERSION = (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string }).version;
const OLDER = '0.9.0'; // the release an upgrade starts from, built by this suite
const COMMAND_TIMEOUT_MS = 120_000;
const OPEN_ORDERS = 3;

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && spawnSync('unshare', ['-n', 'true']).status === 0;
const hasDpkg = spawnSync('dpkg-deb', ['--version']).status === 0 && spawnSync('dpkg', ['--version']).status === 0;
const hasLintian = spawnSync('lintian', ['--version']).status === 0;
const skip = !canUnshare ? 'needs root and unshare -n (a network namespace with no route)' : undefined;

const dirs: string[] = [];
const children: ChildProcess[] = [];
let out = '';
let fakeBin = '';
let calledLog = '';
let artifacts: Artifact[] = [];
let older: Artifact[] = [];
let lintian: Promise<{ code: number | null; output: string }> | undefined;

const artifact = (list: Artifact[], suffix: string) => {
  const found = list.find((a) => a.file.endsWith(suffix));
  assert.ok(found, `${suffix} was built`);
  return found.file;
};

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

// A command with no network and no host Node.js or npm.
function offline(argv: string[], o: { cwd?: string } = {}): SpawnSyncReturns<string> {
  const run = spawnSync('unshare', ['-n', ...argv], {
    encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, cwd: o.cwd ?? '/',
    env: { PATH: `${fakeBin}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: 'C.UTF-8', HOME: '/nonexistent' },
  });
  if (run.error) throw run.error;
  return run;
}

function ok(run: SpawnSyncReturns<string>, what: string): string {
  assert.is(run.status, 0, `${what} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

function nothingReachedForTheHost(): void {
  assert.not.ok(fs.existsSync(calledLog), `the host's node or npm was called: ${fs.existsSync(calledLog) ? fs.readFileSync(calledLog, 'utf8') : ''}`);
}

function installTarball(tarball: string, root: string): string {
  return ok(offline(['bash', path.join(PROJECT_DIR, 'install.sh'), '--from', tarball, '--root', root]), `install.sh --from ${path.basename(tarball)}`);
}

// dpkg with its database under the root, the maintainer scripts run outside a chroot with
// DPKG_ROOT set (the root holds no shell of its own); the dependencies are the host's
// business, not the staged root's.
function dpkgInstall(deb: string, root: string, extra: string[] = []): string {
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers', 'var/log']) fs.mkdirSync(path.join(root, d), { recursive: true });
  if (!fs.existsSync(path.join(root, 'var/lib/dpkg/status'))) fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), '');
  return ok(offline(['dpkg', `--root=${root}`, '--force-script-chrootless', '--force-depends', '--log=/dev/null', ...extra, '-i', deb]), `dpkg -i ${path.basename(deb)}`);
}

const newer = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.split(/[.~+-]/).slice(0, 3).map(Number));
  const i = x!.findIndex((n, k) => n !== y![k]);
  return i !== -1 && x![i]! > y![i]!;
};
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test.before(() => {
  if (skip) return;
  out = dir('release-out');
  fakeBin = dir('release-fakebin');
  calledLog = path.join(fakeBin, 'called.log');
  for (const tool of ['node', 'npm', 'npx']) {
    fs.writeFileSync(path.join(fakeBin, tool), `#!/bin/sh\necho "${tool} $*" >> ${calledLog}\nexit 99\n`, { mode: 0o755 });
  }
  const formats: Array<'deb' | 'tar'> = hasDpkg ? ['deb', 'tar'] : ['tar'];
  const built = buildRelease({ arches: ['x64'], outDir: out, formats, versions: [VERSION, OLDER] });
  artifacts = built.filter((a) => !path.basename(a.file).includes(OLDER));
  older = built.filter((a) => path.basename(a.file).includes(OLDER));
  // lintian takes a while: it runs beside the other tests.
  if (hasDpkg && hasLintian) {
    lintian = new Promise((resolve) => {
      const child = spawn('lintian', ['--fail-on', 'error,warning', '--tag-display-limit', '0', artifact(artifacts, '_amd64.deb')], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      child.stdout.on('data', (c) => { output += c; });
      child.stderr.on('data', (c) => { output += c; });
      child.on('close', (code) => resolve({ code, output }));
    });
  }
});

test.after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await lintian;
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('the x64 tarball holds install.sh, the compiled code, Node.js 24 and the production node_modules with classic-level\'s x64 prebuild, and no test or development package', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  assert.ok(newer(VERSION, OLDER), `the upgrade starts from an older release (${OLDER} < ${VERSION})`);
  const tarball = artifact(artifacts, `ferry-${VERSION}-linux-x64.tar.gz`);
  const top = `ferry-${VERSION}-linux-x64`;
  const entries = new Set(ok(spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 }), 'tar -t').split('\n'));
  for (const p of ['install.sh', 'release.json', 'app/node/bin/node', 'app/node/LICENSE', 'app/bin/ferry', 'app/bin/ferry.js', 'app/dist/runtime/inner/main.js',
    'app/dist/build-info.json', 'app/package.json', 'app/node_modules/aedes/package.json', 'app/node_modules/classic-level/prebuilds/linux-x64/classic-level.node',
    'app/deploy/keepalived/keepalived.conf', 'rules/gateway.yaml', 'deploy/systemd/ferry-inner.service.in', 'deploy/sysctl/60-ferry.conf']) {
    assert.ok(entries.has(`${top}/${p}`), `${p} is in the tarball`);
  }
  const names = [...entries];
  for (const [what, bad] of [['tests', /\/dist\/test\//], ['development packages', /\/node_modules\/(typescript|uvu|puppeteer-core|@types\/pg)\//],
    ['other platforms\' prebuilds', /\/prebuilds\/(?!linux-x64\/)./], ['a local native build', /classic-level\/build\//]] as const) {
    assert.equal(names.filter((n) => bad.test(n)), [], `no ${what}`);
  }
  const x = dir('release-x');
  ok(spawnSync('tar', ['-xzf', tarball, '-C', x, `${top}/release.json`, `${top}/app/node/bin/node`], { encoding: 'utf8' }), 'tar -x');
  const info = JSON.parse(fs.readFileSync(path.join(x, top, 'release.json'), 'utf8')) as Record<string, string>;
  assert.equal({ version: info.version, arch: info.arch, node: info.node }, { version: VERSION, arch: 'x64', node: runtimePin().version });
  assert.match(info.node!, /^24\./, 'Node.js 24 LTS');
  assert.is(ok(offline([path.join(x, top, 'app/node/bin/node'), '--version']), 'node --version').trim(), `v${runtimePin().version}`);
});

test('installed from the tarball with no network and no Node.js or npm on the host: ferry --version and ferry rules check run on the release\'s Node.js', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  assert.is(offline(['sh', '-c', 'ip -4 route; ip -6 route']).stdout.trim(), '', 'the namespace has no route at all');
  const root = dir('release-root');
  installTarball(artifact(artifacts, '-linux-x64.tar.gz'), root);
  const ferry = path.join(root, 'opt/ferry/bin/ferry');
  const commit = (JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, 'dist/build-info.json'), 'utf8')) as { commit: string }).commit;
  assert.is(ok(offline([ferry, '--version']), 'ferry --version'), `ferry ${VERSION} (${commit})\n`);
  assert.match(ok(offline([ferry, 'rules', 'check', path.join(root, 'etc/ferry')]), 'ferry rules check'), /rules OK: 0 devices/);
  assert.is(fs.readlinkSync(path.join(root, 'usr/local/bin/ferry')), '/opt/ferry/bin/ferry');
  for (const side of ['inner', 'outer'] as const) {
    const flags = SIDE_NODE_FLAGS[side].map((f) => `${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `).join('');
    assert.match(fs.readFileSync(path.join(root, `etc/systemd/system/ferry-${side}.service`), 'utf8'),
      new RegExp(`^ExecStart=/opt/ferry/node/bin/node ${flags}/opt/ferry/dist/runtime/${side}/main\\.js `, 'm'), `ferry-${side} runs the release's Node.js`);
  }
  const devices = (YAML.parse(fs.readFileSync(path.join(root, 'etc/ferry/devices.yaml'), 'utf8')) as { devices: unknown[] }).devices;
  assert.equal(devices, [], 'no demo device is installed');
  assert.not.match(fs.readFileSync(path.join(root, 'etc/ferry/gateway.yaml'), 'utf8'), /DEMO-ONLY/);
  assert.match(ok(offline(['bash', path.join(PROJECT_DIR, 'install.sh'), '--from', artifact(artifacts, '-linux-x64.tar.gz'), '--root', root]), 'a second install'),
    /nothing changed/);
  nothingReachedForTheHost();
});

test('the .deb installs into a staged root with no network: its rule files are conffiles, its scripts make the data directory and the placeholder secrets', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  if (!hasDpkg) return console.log('  (skipped: dpkg is not installed here)');
  const deb = artifact(artifacts, `ferry_${VERSION}_amd64.deb`);
  const field = (name: string) => ok(spawnSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }), 'dpkg-deb -f').trim();
  assert.match(field('Depends'), /\bnftables\b/);
  assert.not.match(field('Depends'), /nodejs/, 'the release carries its Node.js');
  assert.is(field('Architecture'), 'amd64');
  const root = dir('release-deb');
  dpkgInstall(deb, root);
  const status = fs.readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8');
  assert.match(status, new RegExp(`^Version: ${VERSION.replaceAll('.', '\\.')}$`, 'm'));
  assert.match(status, /^Status: install ok installed$/m);
  for (const f of ['gateway.yaml', 'devices.yaml', 'roles.yaml', 'firewall.yaml', 'netns.env']) assert.match(status, new RegExp(`^ /etc/ferry/${f.replace('.', '\\.')} [0-9a-f]{32}$`, 'm'), `${f} is a conffile`);
  for (const f of ['payment.secret', 'management.token', 'management-admin.token']) {
    assert.is(fs.statSync(path.join(root, 'etc/ferry', f)).mode & 0o777, 0o640, `${f} is made, for root and the ferry group only`);
    assert.match(fs.readFileSync(path.join(root, 'etc/ferry', f), 'utf8'), /^[0-9a-f]{64}\n$/);
  }
  assert.ok(fs.statSync(path.join(root, 'var/lib/ferry/store')).isDirectory());
  assert.is(fs.readlinkSync(path.join(root, 'usr/bin/ferry')), '/opt/ferry/bin/ferry');
  assert.equal((YAML.parse(fs.readFileSync(path.join(root, 'etc/ferry/devices.yaml'), 'utf8')) as { devices: unknown[] }).devices, [], 'no demo device');
  assert.match(ok(offline([path.join(root, 'opt/ferry/bin/ferry'), 'rules', 'check', path.join(root, 'etc/ferry')]), 'ferry rules check'), /rules OK/);
  nothingReachedForTheHost();
});

test('a .deb upgrade keeps an edited rule file, the secrets and the data, and records the new version', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  if (!hasDpkg) return console.log('  (skipped: dpkg is not installed here)');
  const root = dir('release-deb-upgrade');
  dpkgInstall(artifact(older, `ferry_${OLDER}_amd64.deb`), root);
  const roles = path.join(root, 'etc/ferry/roles.yaml');
  fs.appendFileSync(roles, '# edited by the operator\n');
  const edited = fs.readFileSync(roles, 'utf8');
  const secret = sha(path.join(root, 'etc/ferry/payment.secret'));
  fs.writeFileSync(path.join(root, 'var/lib/ferry/store/MARKER'), 'the store');
  dpkgInstall(artifact(artifacts, `ferry_${VERSION}_amd64.deb`), root, ['--force-confold']);
  assert.is(fs.readFileSync(roles, 'utf8'), edited, 'the edit is kept');
  assert.is(sha(path.join(root, 'etc/ferry/payment.secret')), secret, 'the secret is not replaced');
  assert.is(fs.readFileSync(path.join(root, 'var/lib/ferry/store/MARKER'), 'utf8'), 'the store');
  assert.match(fs.readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8'), new RegExp(`^Version: ${VERSION.replaceAll('.', '\\.')}$`, 'm'));
  assert.match(ok(offline([path.join(root, 'opt/ferry/bin/ferry'), '--version']), 'ferry --version'), new RegExp(`^ferry ${VERSION.replaceAll('.', '\\.')} `));
});

// The package's maintainer scripts on a host where systemd runs, without touching this
// one: a private mount namespace with fresh /run (holding /run/systemd/system), /etc
// and /var/lib, and a systemctl, deb-systemd-invoke, getent, chown, chgrp and sysctl
// on PATH that only write down how they were called. Only the inner side "is active".
function maintainerScriptsUnderSystemd(deb: string, steps: string[][]): string[] {
  const scripts = dir('release-scripts');
  ok(spawnSync('dpkg-deb', ['-e', deb, scripts], { encoding: 'utf8' }), 'dpkg-deb -e');
  const bin = dir('release-systemd-bin');
  const calls = path.join(bin, 'calls.log');
  const fake = (name: string, body = '') => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}exit 0\n`, { mode: 0o755 });
  fake('systemctl', 'case "$*" in "is-active --quiet ferry-outer.service") exit 3 ;; esac\n');
  for (const tool of ['deb-systemd-invoke', 'getent', 'chown', 'chgrp', 'sysctl']) fake(tool);
  const run = steps.map((argv) => `PATH=${bin}:/usr/bin:/bin sh ${scripts}/${argv.join(' ')}`).join(' && ');
  ok(spawnSync('unshare', ['-m', '-n', 'sh', '-c', `mount --make-rprivate / && mount -t tmpfs ferry /run && mkdir -p /run/systemd/system && mount -t tmpfs ferry /etc && mount -t tmpfs ferry /var/lib && mkdir -p /etc/ferry && ${run}`],
    { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS }), 'the maintainer scripts');
  return fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n').filter((l) => !/^(getent|chown|chgrp|sysctl) /.test(l)) : [];
}

test('under systemd, a .deb upgrade stops the sides that ran before unpacking and starts them after; a fresh install starts nothing', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  if (!hasDpkg) return console.log('  (skipped: dpkg is not installed here)');
  const deb = artifact(artifacts, `ferry_${VERSION}_amd64.deb`);
  assert.equal(maintainerScriptsUnderSystemd(deb, [['prerm', 'upgrade', VERSION], ['postinst', 'configure', OLDER]]), [
    'systemctl is-active --quiet ferry-inner.service',
    'systemctl is-active --quiet ferry-outer.service',
    'deb-systemd-invoke stop ferry-outer.service ferry-inner.service',
    'systemctl daemon-reload',
    'deb-systemd-invoke try-restart ferry-firewall.service',
    'deb-systemd-invoke start ferry-inner.service',
  ]);
  assert.equal(maintainerScriptsUnderSystemd(deb, [['postinst', 'configure']]), ['systemctl daemon-reload'], 'nothing started or enabled');
});

// The inner side of an installed tree, on its own Node.js, as its unit runs it (ports
// moved to free ones; the outer side stays down, so that payments stay open).
async function startInstalledInner(root: string, ports: { mqtt: number; management: number }): Promise<ChildProcess> {
  const app = path.join(root, 'opt/ferry');
  const child = spawn(path.join(app, 'node/bin/node'), [...SIDE_NODE_FLAGS.inner, path.join(app, 'dist/runtime/inner/main.js'),
    '--rules', path.join(root, 'etc/ferry'), '--data', path.join(root, 'var/lib/ferry'),
    '--mqtt-host', '127.0.0.1', '--mqtt-port', String(ports.mqtt), '--management-host', '127.0.0.1', '--management-port', String(ports.management),
    '--reply-wait-ms', '200', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the installed inner side exited ${child.exitCode}:\n${stderr}`);
    return (await canConnect(ports.mqtt)) && canConnect(ports.management);
  }, 60_000, 'the installed inner side listening');
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function management(root: string, port: number, route: string): Promise<{ status: number; text: string }> {
  const token = fs.readFileSync(path.join(root, 'etc/ferry/management.token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}${route}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
}

const openOrders = async (root: string, port: number) => Number(/^ferry_orders_open (\d+)$/m.exec((await management(root, port, '/metrics')).text)?.[1]);

test('upgrading the tarball install keeps the data and the edited rules, and the gateway comes back from the new tree with every open order still open', async () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  const root = dir('release-upgrade');
  installTarball(artifact(older, `ferry-${OLDER}-linux-x64.tar.gz`), root);
  const ferry = path.join(root, 'opt/ferry/bin/ferry');
  const rules = path.join(root, 'etc/ferry');
  // The operator's edits: two devices (devices.yaml), a payment server (gateway.yaml).
  const password = (id: string, role: string) => ok(offline([ferry, 'devices', 'add', id, '--role', role, '--rules', rules]), `ferry devices add ${id}`).trim();
  const desk = { id: 'billing-01', password: password('billing-01', 'billing_desk') };
  const kiosk = { id: 'kiosk-01', password: password('kiosk-01', 'kiosk') };
  const gatewayYaml = path.join(rules, 'gateway.yaml');
  fs.writeFileSync(gatewayYaml, fs.readFileSync(gatewayYaml, 'utf8').replace(/^ {2}url: null$/m, '  url: https://pay.example-bank.test/'));
  const editedRules = { devices: sha(path.join(rules, 'devices.yaml')), gateway: sha(gatewayYaml) };

  const ports = { mqtt: await freePort(), management: await freePort() };
  const clients: DeviceClient[] = [];
  let inner = await startInstalledInner(root, ports);
  try {
    const url = `mqtt://127.0.0.1:${ports.mqtt}`;
    const billing = await DeviceClient.connect({ url, ...desk });
    clients.push(billing);
    const payer = await DeviceClient.connect({ url, ...kiosk });
    clients.push(payer);
    for (let i = 0; i < OPEN_ORDERS; i++) {
      const bill = await billing.request('bill.create', { patientId: `P-U${i}`, reference: `UPG-${i}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
      assert.is(bill.type, 'bill.created', JSON.stringify(bill.body));
      const paid = await payer.request('payment.request', { billId: (bill.body as { billId: string }).billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: `51234${i}` });
      assert.is((paid.body as { status: string }).status, 'pending', 'no payment server reachable: the order stays open');
    }
    assert.is(await openOrders(root, ports.management), OPEN_ORDERS);
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await stopProcess(inner);

    const upgrade = installTarball(artifact(artifacts, `ferry-${VERSION}-linux-x64.tar.gz`), root);
    assert.match(upgrade, /kept your \/etc\/ferry\/devices\.yaml/);
    assert.equal({ devices: sha(path.join(rules, 'devices.yaml')), gateway: sha(gatewayYaml) }, editedRules, 'the edited rule files are kept');
    assert.match(ok(offline([ferry, '--version']), 'ferry --version'), new RegExp(`^ferry ${VERSION.replaceAll('.', '\\.')} `));

    inner = await startInstalledInner(root, ports);
    assert.is(await openOrders(root, ports.management), OPEN_ORDERS, 'every open order is still open');
    const ready = JSON.parse((await management(root, ports.management, '/readyz/inner')).text) as { version: string; node: string };
    assert.equal({ version: ready.version, node: ready.node }, { version: VERSION, node: runtimePin().version }, 'the new release serves, on its own Node.js');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await stopProcess(inner);
  }
  nothingReachedForTheHost();
});

test('an arm64 release assembled on this machine carries an aarch64 Node.js and classic-level prebuild, and no x64 binary', () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  const node = bundledNode('arm64');
  const app = path.join(dir('release-arm64'), 'app');
  stageApp(PROJECT_DIR, app, releaseInfo(PROJECT_DIR, 'arm64', node), node);
  const natives = checkArtifact(app, 'arm64');
  assert.equal(natives.map((n) => n.file), ['node/bin/node', 'node_modules/classic-level/prebuilds/linux-arm64/classic-level.armv8.node']);
  for (const n of natives) assert.match(n.type, /ELF 64-bit LSB .*ARM aarch64/, `${n.file}: ${n.type}`);
});

test('lintian finds no error or warning in the .deb beyond the overrides it ships', async () => {
  if (skip) return console.log(`  (skipped: ${skip})`);
  if (!lintian) return console.log(`  (skipped: ${hasDpkg ? 'lintian' : 'dpkg'} is not installed here)`);
  const { code, output } = await lintian;
  assert.is(code, 0, output);
});

test.run();
