// `ferry devices add|disable`, run as real processes against a copy of rules/ in a
// temp dir: what an operator sees on stdout and stderr, and what ends up in
// devices.yaml. A change that would break the rules is never written (invariant 5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRules } from '../runtime/rules/load.js';
import { verifyPassword } from '../runtime/rules/password.js';
import { addDevice, disableDevice, enableDevice, removeDevice, rotateDevice } from '../runtime/rules/devices-file.js';
import { RulesError } from '../runtime/rules/types.js';

const EXAMPLE_RULES = fileURLToPath(new URL('../../rules', import.meta.url));
const COMMANDS = new URL('../runtime/cli/commands/', import.meta.url);
// The CLI derives a scrypt hash and loads the rules; generous, only to never hang.
const CLI_TIMEOUT_MS = 30_000;
// No gateway runs for these tests: a devices command told to apply its change finds
// nothing there (another gateway on the default management port must not answer it).
const NO_GATEWAY_URL = 'http://127.0.0.1:9';
const dirs: string[] = [];

function copyRules(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-devices-'));
  dirs.push(dir);
  cpSync(EXAMPLE_RULES, dir, { recursive: true });
  return dir;
}

interface Run { status: number; stdout: string; stderr: string }

// Runs one command module in its own node process, as `ferry` would.
// `withoutChown`: the command runs as root but without CAP_CHOWN (setpriv drops it), as a
// user who may not give a file another owner. Running it as another uid would need the
// whole checkout readable by that uid, which a CI clone in a private directory is not.
function ferry(module: string, args: string[], as: { withoutChown?: boolean } = {}): Promise<Run> {
  const script = 'const { command } = await import(process.argv[1]); process.exitCode = await command.run(process.argv.slice(2));';
  const url = new URL(`${module}.js`, COMMANDS).href;
  const applies = module.startsWith('devices-') && !args.includes('--help');
  const node = [process.execPath, '--input-type=module', '-e', script, url, ...args, ...(applies ? ['--url', NO_GATEWAY_URL] : [])];
  const [file, ...argv] = as.withoutChown ? ['setpriv', '--inh-caps=-chown', '--bounding-set=-chown', ...node] : node;
  return new Promise((resolve, reject) => {
    execFile(file!, argv, { timeout: CLI_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ status: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

// The error a promise rejects with; fails the test if it resolves.
async function rejection(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    assert.instance(err, Error);
    return err as Error;
  }
  assert.unreachable('the promise resolved');
  throw new Error('unreachable');
}

const devicesText = (dir: string) => readFileSync(join(dir, 'devices.yaml'), 'utf8');

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('devices add prints only the secret, and its hash in devices.yaml verifies against it', async () => {
  const dir = copyRules();
  const run = await ferry('devices-add', ['kiosk-03', '--role', 'kiosk', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^[A-Za-z0-9_-]{32}\n$/);
  const secret = run.stdout.trim();
  const device = loadRules(dir).devices.get('kiosk-03');
  assert.ok(device);
  assert.is(device!.role, 'kiosk');
  assert.is(device!.disabled, false);
  assert.ok(await verifyPassword(secret, device!.password!));
  assert.not.ok(devicesText(dir).includes(secret), 'the secret itself is not written');
});

test('a certificate device is added with its fingerprint, no password, and nothing on stdout', async () => {
  const dir = copyRules();
  const fp = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0')).join(':');
  const run = await ferry('devices-add', ['kiosk-tls', '--role', 'kiosk', '--cert-fingerprint', fp, '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.is(run.stdout, '');
  const device = loadRules(dir).devices.get('kiosk-tls');
  assert.is(device!.certFingerprint, fp.toUpperCase());
  assert.is(device!.password, undefined);
  const bad = await ferry('devices-add', ['kiosk-bad', '--role', 'kiosk', '--cert-fingerprint', 'AB:CD', '--rules', dir]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /fingerprint/);
  assert.is(loadRules(dir).devices.get('kiosk-bad'), undefined);
});

test('devices add keeps the comments and layout of devices.yaml', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const run = await ferry('devices-add', ['ws-sur-01', '--role', 'workstation', '--dept', 'SUR', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  const after = devicesText(dir);
  assert.ok(after.startsWith(before), 'every byte before the new entry is unchanged');
  assert.match(after.slice(before.length), /^  - id: ws-sur-01\n    role: workstation\n    dept: SUR\n    password: scrypt\$[^\n]+\n$/);
  assert.is(loadRules(dir).devices.get('ws-sur-01')!.dept, 'SUR');
});

test('a duplicate device add is refused and leaves devices.yaml byte-identical', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const run = await ferry('devices-add', ['kiosk-01', '--role', 'kiosk', '--rules', dir]);
  assert.is(run.status, 1);
  assert.is(run.stdout, '');
  assert.match(run.stderr, /devices\.yaml:\d+:\d+: device "kiosk-01" already exists/);
  assert.is(devicesText(dir), before);
});

test('an unknown role and a workstation without a department are refused', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const nurse = await ferry('devices-add', ['n-01', '--role', 'nurse', '--rules', dir]);
  assert.is(nurse.status, 1);
  assert.match(nurse.stderr, /unknown role "nurse"/);
  const ws = await ferry('devices-add', ['ws-02', '--role', 'workstation', '--rules', dir]);
  assert.is(ws.status, 1);
  assert.match(ws.stderr, /needs --dept/);
  assert.is(ws.stdout + nurse.stdout, '');
  assert.is(devicesText(dir), before);
});

test('a role that roles.yaml does not define is refused by the rule check before writing', async () => {
  const dir = copyRules();
  const roles = readFileSync(join(dir, 'roles.yaml'), 'utf8');
  writeFileSync(join(dir, 'roles.yaml'), roles.replace('  billing_desk:\n    subscribe: []\n', ''));
  writeFileSync(join(dir, 'devices.yaml'), devicesText(dir).replace(/  - id: billing-01\n    role: billing_desk\n    password: .*\n/, ''));
  const before = devicesText(dir);
  const err = await rejection(() => addDevice(dir, { id: 'billing-02', role: 'billing_desk' }));
  assert.match(err.message, /role "billing_desk" is not defined in roles\.yaml/);
  assert.is(devicesText(dir), before);
});

test('no device is added while another rule file is broken', async () => {
  const dir = copyRules();
  const gateway = readFileSync(join(dir, 'gateway.yaml'), 'utf8');
  writeFileSync(join(dir, 'gateway.yaml'), gateway.replace(/  secret: .*\n/, '  secret: short\n'));
  const before = devicesText(dir);
  const run = await ferry('devices-add', ['kiosk-09', '--role', 'kiosk', '--rules', dir]);
  assert.is(run.status, 1);
  assert.is(run.stdout, '');
  assert.match(run.stderr, /gateway\.yaml:\d+:\d+: payment\.secret/);
  assert.is(devicesText(dir), before);
});

test('devices disable marks the device disabled and keeps the rest of the file', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const run = await ferry('devices-disable', ['kiosk-02', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.is(run.stdout, 'device kiosk-02 disabled\n');
  const rules = loadRules(dir);
  assert.is(rules.devices.get('kiosk-02')!.disabled, true);
  assert.is(rules.devices.get('kiosk-01')!.disabled, false);
  const added = devicesText(dir).split('\n').filter((l) => !before.split('\n').includes(l));
  assert.equal(added, ['    disabled: true']);
});

test('disabling twice changes nothing the second time, and an explicit disabled: false is flipped', async () => {
  const dir = copyRules();
  await disableDevice(dir, 'desk-01');
  const once = devicesText(dir);
  await disableDevice(dir, 'desk-01');
  assert.is(devicesText(dir), once);
  writeFileSync(join(dir, 'devices.yaml'), once.replace('    role: kiosk\n', '    role: kiosk\n    disabled: false # was on\n'));
  await disableDevice(dir, 'kiosk-01');
  assert.match(devicesText(dir), /disabled: true # was on/);
  assert.is(loadRules(dir).devices.get('kiosk-01')!.disabled, true);
});

test('disabling a device that does not exist is refused', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const run = await ferry('devices-disable', ['ghost-01', '--rules', dir]);
  assert.is(run.status, 1);
  assert.match(run.stderr, /no device "ghost-01"/);
  assert.is(devicesText(dir), before);
});

test('devices enable takes back exactly what disable added, and leaves an enabled device as it is', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  await enableDevice(dir, 'kiosk-02');
  assert.is(devicesText(dir), before, 'already enabled: unchanged');
  await disableDevice(dir, 'kiosk-02');
  assert.is(loadRules(dir).devices.get('kiosk-02')!.disabled, true);
  await enableDevice(dir, 'kiosk-02');
  assert.is(devicesText(dir), before);
  const run = await ferry('devices-enable', ['ghost-01', '--rules', dir]);
  assert.is(run.status, 1);
  assert.match(run.stderr, /no device "ghost-01"/);
});

test('devices remove deletes only that entry and keeps every other byte; the last one leaves an empty list', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  await removeDevice(dir, 'kiosk-02');
  const entry = /  - id: kiosk-02\n(    .*\n)+/.exec(before)![0];
  assert.is(devicesText(dir), before.replace(entry, ''));
  for (const id of [...loadRules(dir).devices.keys()]) await removeDevice(dir, id);
  assert.is(loadRules(dir).devices.size, 0);
  assert.ok(devicesText(dir).startsWith('# Devices allowed'), 'the comments stay');
});

test('devices rotate replaces only the password hash, and the new secret verifies while the old does not', async () => {
  const dir = copyRules();
  const before = devicesText(dir);
  const old = loadRules(dir).devices.get('kiosk-01')!.password!;
  const run = await ferry('devices-rotate', ['kiosk-01', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^[A-Za-z0-9_-]{32}\n$/);
  assert.match(run.stderr, /the gateway is not running .*applies at its next start/);
  const fresh = loadRules(dir).devices.get('kiosk-01')!.password!;
  assert.ok(await verifyPassword(run.stdout.trim(), fresh));
  assert.not.ok(await verifyPassword(run.stdout.trim(), old));
  assert.is(devicesText(dir), before.replace(old, fresh));
  const secret = await rotateDevice(dir, 'kiosk-01');
  assert.ok(await verifyPassword(secret, loadRules(dir).devices.get('kiosk-01')!.password!));
});

test('devices rotate, enable and remove run as root keep the owner, group and mode of devices.yaml', async () => {
  const dir = copyRules();
  const other = { uid: 65534, gid: 65534 };
  chownSync(join(dir, 'devices.yaml'), other.uid, other.gid);
  chmodSync(join(dir, 'devices.yaml'), 0o640);
  const listing = readdirSync(dir).sort();
  for (const [module, id] of [['devices-rotate', 'kiosk-01'], ['devices-disable', 'kiosk-02'], ['devices-enable', 'kiosk-02'], ['devices-remove', 'desk-01']] as const) {
    const run = await ferry(module, [id, '--rules', dir]);
    assert.is(run.status, 0, `${module}: ${run.stderr}`);
    assert.equal(ownership(dir), { ...other, mode: '640' }, module);
  }
  assert.not.ok(loadRules(dir).devices.has('desk-01'));
  assert.equal(readdirSync(dir).sort(), listing);
});

test('a device is added to an empty flow-style list, and no temp file is left behind', async () => {
  const dir = copyRules();
  writeFileSync(join(dir, 'devices.yaml'), '# no devices yet\ndevices: []\n');
  const secret = await addDevice(dir, { id: 'kiosk-01', role: 'kiosk' });
  const text = devicesText(dir);
  assert.ok(text.startsWith('# no devices yet\n'));
  assert.ok(await verifyPassword(secret, loadRules(dir).devices.get('kiosk-01')!.password!));
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

// An installed box: devices.yaml belongs to the service account, not to root, and only
// that account (and its group) may read it.
const SERVICE = { uid: 12345, gid: 12345 };
function installedLike(dir: string, mode: number): void {
  chownSync(join(dir, 'devices.yaml'), SERVICE.uid, SERVICE.gid);
  chmodSync(join(dir, 'devices.yaml'), mode);
}
function ownership(dir: string): { uid: number; gid: number; mode: string } {
  const st = statSync(join(dir, 'devices.yaml'));
  return { uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8) };
}

test('devices add run as root keeps the owner, group and mode of devices.yaml, and leaves no temp file', async () => {
  const dir = copyRules();
  installedLike(dir, 0o640);
  const listing = readdirSync(dir).sort();
  const run = await ferry('devices-add', ['kiosk-07', '--role', 'kiosk', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.ok(loadRules(dir).devices.has('kiosk-07'));
  assert.equal(ownership(dir), { ...SERVICE, mode: '640' });
  assert.equal(readdirSync(dir).sort(), listing);
});

test('devices disable run as root keeps the owner, group and mode of devices.yaml, and leaves no temp file', async () => {
  const dir = copyRules();
  // Group-writable: a umask of 022 must not take the group's write bit away.
  installedLike(dir, 0o660);
  const listing = readdirSync(dir).sort();
  const run = await ferry('devices-disable', ['kiosk-02', '--rules', dir]);
  assert.is(run.status, 0, run.stderr);
  assert.is(loadRules(dir).devices.get('kiosk-02')!.disabled, true);
  assert.equal(ownership(dir), { ...SERVICE, mode: '660' });
  assert.equal(readdirSync(dir).sort(), listing);
});

test('a user who cannot give devices.yaml its owner back is refused, and the file is left as it was', async () => {
  const dir = copyRules();
  installedLike(dir, 0o666);
  const before = devicesText(dir);
  const listing = readdirSync(dir).sort();
  const run = await ferry('devices-disable', ['kiosk-02', '--rules', dir], { withoutChown: true });
  assert.is(run.status, 1, run.stderr);
  assert.match(run.stderr, /belongs to 12345:12345.*run the command as root or as the file's owner/);
  assert.is(devicesText(dir), before);
  assert.equal(ownership(dir), { ...SERVICE, mode: '666' });
  assert.equal(readdirSync(dir).sort(), listing);
});

test('an invalid device id is refused with the reason', async () => {
  const dir = copyRules();
  for (const id of ['kiosk/01', 'kiosk#', '+', '']) {
    const err = await rejection(() => addDevice(dir, { id, role: 'kiosk' }));
    assert.instance(err, RulesError);
    assert.match(err.message, /must match/);
  }
});

test('each command explains itself with --help and rejects a wrong command line', async () => {
  for (const module of ['devices-add', 'devices-disable', 'devices-enable', 'devices-rotate', 'devices-remove', 'devices-list', 'rules-check']) {
    const help = await ferry(module, ['--help']);
    assert.is(help.status, 0);
    assert.match(help.stdout, /^Usage: ferry /);
  }
  const wrong = await ferry('devices-add', ['kiosk-05']);
  assert.is(wrong.status, 2);
  assert.is(wrong.stdout, '');
});

test('rules check reports OK for the examples and every problem with file:line:col', async () => {
  const ok = await ferry('rules-check', [EXAMPLE_RULES]);
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^rules OK: \d+ devices, \d+ message types/);
  const dir = copyRules();
  writeFileSync(join(dir, 'devices.yaml'), devicesText(dir).replace('role: receiver', 'role: receiver\n    shoeSize: 42'));
  const bad = await ferry('rules-check', [dir]);
  assert.is(bad.status, 1);
  assert.is(bad.stdout, '');
  const line = devicesText(dir).split('\n').findIndex((l) => l.includes('shoeSize')) + 1;
  assert.ok(bad.stderr.includes(`devices.yaml:${line}:5: devices[4].shoeSize: unknown key`), bad.stderr);
});

test.run();
