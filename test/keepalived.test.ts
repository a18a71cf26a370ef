// The keepalived files shipped in deploy/keepalived/ (docs/ha.md): the check script says
// "active" (exit 0) only for a box whose /readyz answers 200, and keepalived itself
// accepts the configuration. The configuration check needs keepalived, root and `ip`
// (it runs in a network namespace this test makes, with the medical NIC the file names);
// without them it is skipped with a message.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../sim/gateway-processes.js';
import { startStandby } from '../runtime/inner/ha/standby.js';
import { PROJECT_DIR, quietLog, startTestGateway } from './helpers/gateway.js';

const DIR = path.join(PROJECT_DIR, 'deploy/keepalived');
const CHECK = path.join(DIR, 'ferry-readyz-check');
const CONF = path.join(DIR, 'keepalived.conf');
const COMMAND_TIMEOUT_MS = 20_000;

function run(argv: string[], o: { detached?: boolean } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // keepalived -t signals its own process group: it gets one of its own.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached ?? false });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const hostPort = (url: string): [string, string] => {
  const u = new URL(url);
  return [u.hostname, u.port];
};

test('the check script exits 0 for an active box (readyz 200) and 1 for a standby (503) and for a box that does not answer', async () => {
  const gw = await startTestGateway();
  const standby = await startStandby({ management: { host: '127.0.0.1', port: 0, token: 't'.repeat(32), adminToken: 'a'.repeat(32) }, log: quietLog, state: () => 'another box holds the leader lock' });
  try {
    assert.is((await run([CHECK, ...hostPort(gw.inner.query.managementUrl()!)])).code, 0, 'the active box');
    assert.is((await run([CHECK, ...hostPort(standby.url!)])).code, 1, 'the standby');
    assert.is((await run([CHECK, '127.0.0.1', String(await freePort())])).code, 1, 'nothing listening');
    await gw.stopOuter();
    assert.is((await run([CHECK, ...hostPort(gw.inner.query.managementUrl()!)])).code, 1, 'an active inner side whose outer side is down is not ready');
  } finally {
    await standby.close();
    await gw.close();
  }
});

function keepalivedMissing(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (spawnSync('keepalived', ['--version']).status !== 0) return 'keepalived is not installed (apt-get install keepalived)';
  if (spawnSync('ip', ['-V']).status !== 0) return '`ip` is not installed';
  return null;
}

test('keepalived accepts the shipped configuration, and refuses one with a misspelt keyword', async () => {
  const why = keepalivedMissing();
  if (why) {
    console.log(`  SKIP keepalived configuration check: ${why}`);
    return;
  }
  const ns = `ferry-ka${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-keepalived-'));
  try {
    assert.is((await run(['ip', 'netns', 'add', ns])).code, 0);
    const nic = /^\s*interface (\S+)/m.exec(fs.readFileSync(CONF, 'utf8'))![1]!;
    assert.is((await run(['ip', '-n', ns, 'link', 'add', nic, 'type', 'veth', 'peer', 'name', `kax${process.pid % 10000}`])).code, 0);
    // The script at the path the file names is where the package installs it; here, the repository's.
    const text = fs.readFileSync(CONF, 'utf8').replace('/opt/ferry/deploy/keepalived/ferry-readyz-check', CHECK);
    const check = async (conf: string) => {
      const file = path.join(dir, `keepalived-${Math.random().toString(36).slice(2)}.conf`);
      fs.writeFileSync(file, conf);
      // Its exit status says nothing (it ends by a signal either way); its complaints do.
      const { out } = await run(['ip', 'netns', 'exec', ns, 'keepalived', '--config-test', '-f', file], { detached: true });
      return out.split('\n').filter((l) => l.trim() !== '' && l.trim() !== 'Terminated');
    };
    assert.equal(await check(text), []);
    const bad = await check(text.replace('advert_int 1', 'advert_intervl 1'));
    assert.ok(bad.some((l) => /Unknown keyword 'advert_intervl'/.test(l)), bad.join('\n'));
  } finally {
    await run(['ip', 'netns', 'del', ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
