// The inner and outer sides under a Type=notify unit, as systemd sees them: a real
// Unix datagram socket stands in for systemd's (test/helpers/notify-receiver.py, as
// Node cannot open one), the side runs as a real process with NOTIFY_SOCKET and
// WATCHDOG_USEC set, and Debian's systemd-notify carries the messages.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PROJECT_DIR, tempDir } from './helpers/gateway.js';
import { watchdogInterval } from '../runtime/common/systemd-notify.js';
import { SIDE_EXIT } from '../runtime/common/side-exit.js';

const RULES = path.join(PROJECT_DIR, 'rules');
const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');
const RECEIVER = path.join(PROJECT_DIR, 'test/helpers/notify-receiver.py');
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;
// WATCHDOG_USEC for the test: pings every 150 ms, so that a few arrive quickly.
const WATCHDOG_USEC = 300_000;
const PING_MS = WATCHDOG_USEC / 2000;

const dirs: string[] = [];
const processes = new Set<ChildProcess>();

interface Message { ms: number; fields: Record<string, string> }

// Both come from Debian (.ci/run installs them): missing on CI fails, elsewhere skips.
function toolsMissing(): boolean {
  const missing = ['python3', 'systemd-notify'].filter((tool) => spawnSync(tool, ['--version']).error);
  if (missing.length === 0) return false;
  if (process.env.CI) assert.unreachable(`${missing.join(' and ')} missing on CI`);
  console.log(`  (skipped: ${missing.join(' and ')} missing; .ci/run installs them)`);
  return true;
}

async function receiver(socketPath: string): Promise<{ messages: Message[]; stop(): void }> {
  const child = spawn('python3', [RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  processes.add(child);
  const messages: Message[] = [];
  let buffered = '';
  let bound!: () => void;
  const ready = new Promise<void>((resolve) => { bound = resolve; });
  child.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as Message & { bound?: boolean };
      buffered = buffered.slice(nl + 1);
      if (line.bound) bound();
      else messages.push(line);
    }
  });
  await ready;
  return { messages, stop: () => { child.kill('SIGKILL'); processes.delete(child); } };
}

function side(main: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  processes.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { if (out.length < 1 << 20) out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { if (err.length < 1 << 20) err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => { processes.delete(child); resolve(code); }));
  return { child, out: () => out, err: () => err, exited };
}

async function waitFor<T>(find: () => T | undefined, what: string, timeoutMs = START_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

test.after(() => {
  for (const p of processes) p.kill('SIGKILL');
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('the watchdog interval is half of WATCHDOG_USEC, and none when WATCHDOG_PID names another process', () => {
  assert.is(watchdogInterval({ WATCHDOG_USEC: '20000000' }), 10_000);
  assert.is(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: String(process.pid) }), 10_000);
  assert.is(watchdogInterval({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: String(process.pid + 1) }), null);
  assert.is(watchdogInterval({}), null);
  assert.is(watchdogInterval({ WATCHDOG_USEC: 'soon' }), null);
});

test('under systemd the inner side says READY=1 only once MQTT and the management API answer, pings the watchdog at WATCHDOG_USEC/2, and says STOPPING=1 on SIGTERM', async () => {
  if (toolsMissing()) return;
  const dir = tempDir('systemd-inner');
  dirs.push(dir);
  const systemd = await receiver(path.join(dir, 'notify.sock'));
  try {
    const inner = side(INNER_MAIN, ['--rules', RULES, '--data', path.join(dir, 'data'), '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--management-port', '0', '--log-level', 'warn'],
      { NOTIFY_SOCKET: path.join(dir, 'notify.sock'), WATCHDOG_USEC: String(WATCHDOG_USEC) });
    const ready = await waitFor(() => systemd.messages.find((m) => m.fields.READY === '1'), `READY=1 (stderr: ${inner.err()})`);
    // The STATUS that comes with READY names what now serves: each must answer already.
    const status = ready.fields.STATUS ?? '';
    assert.match(status, /^serving: MQTT 127\.0\.0\.1:\d+, management http:\/\/127\.0\.0\.1:\d+/);
    const mqttPort = Number(/MQTT 127\.0\.0\.1:(\d+)/.exec(status)![1]);
    const managementUrl = /management (http:\/\/\S+)/.exec(status)![1]!.replace(/,$/, '');
    assert.ok(await canConnect(mqttPort), 'the broker accepts connections when READY=1 arrives');
    const health = await fetch(`${managementUrl}/v1/audit/verify`).catch(() => null);
    assert.ok(health, 'the management API answers when READY=1 arrives');
    const before = systemd.messages.filter((m) => m.ms < ready.ms);
    assert.ok(before.some((m) => /^starting/.test(m.fields.STATUS ?? '')), 'a STATUS line says it is starting before it is ready');

    // Pings keep coming from the event loop at half the watchdog period.
    const pingsFrom = systemd.messages.length;
    await waitFor(() => (systemd.messages.slice(pingsFrom).filter((m) => m.fields.WATCHDOG === '1').length >= 5 ? true : undefined), 'five watchdog pings');
    const pings = systemd.messages.slice(pingsFrom).filter((m) => m.fields.WATCHDOG === '1').map((m) => m.ms);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    assert.ok(mean > PING_MS * 0.5 && mean < PING_MS * 3, `pings every ${PING_MS} ms, measured ${mean.toFixed(0)} ms (${gaps.join(', ')})`);

    inner.child.kill('SIGTERM');
    const timer = setTimeout(() => inner.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await inner.exited;
    clearTimeout(timer);
    assert.is(code, 0, inner.err());
    assert.ok(systemd.messages.some((m) => m.fields.STOPPING === '1'), 'STOPPING=1 was sent before the exit');
  } finally {
    systemd.stop();
  }
});

test('ferry start run by a Type=notify unit says READY=1 once both sides serve; its children report nothing themselves', async () => {
  if (toolsMissing()) return;
  const dir = tempDir('systemd-start');
  dirs.push(dir);
  const systemd = await receiver(path.join(dir, 'notify.sock'));
  const mqttPort = await freePort();
  try {
    const start = side(path.join(PROJECT_DIR, 'bin/ferry.js'), ['start', '--rules', RULES, '--data', path.join(dir, 'data'), '--log-level', 'info',
      '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort), '--notify-host', '127.0.0.1', '--notify-port', String(await freePort()),
      '--sim-port', String(await freePort()), '--management-port', String(await freePort())],
    { NOTIFY_SOCKET: path.join(dir, 'notify.sock'), WATCHDOG_USEC: String(WATCHDOG_USEC) });
    const ready = await waitFor(() => systemd.messages.find((m) => m.fields.READY === '1'), `READY=1 (stderr: ${start.err()})`);
    assert.is(ready.fields.STATUS, 'serving: inner and outer');
    assert.ok(await canConnect(mqttPort), 'the broker accepts connections when READY=1 arrives');
    await waitFor(() => (systemd.messages.filter((m) => m.fields.WATCHDOG === '1').length >= 3 ? true : undefined), 'the supervisor\'s watchdog pings');
    start.child.kill('SIGTERM');
    const timer = setTimeout(() => start.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    assert.is(await start.exited, 0, start.err());
    clearTimeout(timer);
    assert.is(systemd.messages.filter((m) => m.fields.READY === '1').length, 1, 'one READY=1, from the supervisor');
    assert.not.ok(systemd.messages.some((m) => /^serving: (MQTT|notifications)/.test(m.fields.STATUS ?? '')), 'no side reported on its own');
    assert.ok(systemd.messages.some((m) => m.fields.STOPPING === '1'));
  } finally {
    systemd.stop();
  }
});

test('a hung event loop stops the watchdog pings', async () => {
  if (toolsMissing()) return;
  const dir = tempDir('systemd-hang');
  dirs.push(dir);
  const systemd = await receiver(path.join(dir, 'notify.sock'));
  // The notifier as a side uses it, then a loop that never yields for 1.5 s.
  const script = `
    const { systemdNotifier } = await import(${JSON.stringify(path.join(PROJECT_DIR, 'dist/runtime/common/systemd-notify.js'))});
    const { systemClock } = await import(${JSON.stringify(path.join(PROJECT_DIR, 'dist/runtime/common/clock.js'))});
    const { pino } = await import('pino');
    const n = systemdNotifier({ clock: systemClock, log: pino({ level: 'silent' }) });
    n.ready('serving');
    setTimeout(() => { const end = Date.now() + 1500; while (Date.now() < end); n.status('back'); setTimeout(() => n.close().then(() => process.exit(0)), 400); }, 600);
  `;
  try {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: PROJECT_DIR, stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, NOTIFY_SOCKET: path.join(dir, 'notify.sock'), WATCHDOG_USEC: String(WATCHDOG_USEC) },
    });
    processes.add(child);
    await new Promise((resolve) => child.once('close', resolve));
    processes.delete(child);
    await waitFor(() => systemd.messages.find((m) => m.fields.STATUS === 'back'), 'the STATUS after the hang', 5_000);
    const pings = systemd.messages.filter((m) => m.fields.WATCHDOG === '1').map((m) => m.ms);
    const longest = Math.max(...pings.slice(1).map((t, i) => t - pings[i]!));
    assert.ok(pings.length >= 3, `pings before and after the hang (${pings.join(', ')})`);
    assert.ok(longest >= 1200, `no ping while the loop hung: the longest gap is ${longest} ms`);
  } finally {
    systemd.stop();
  }
});

test('the outer side says READY=1 once its notification endpoint listens; a taken port ends it with one line and status 3', async () => {
  if (toolsMissing()) return;
  const dir = tempDir('systemd-outer');
  dirs.push(dir);
  const systemd = await receiver(path.join(dir, 'notify.sock'));
  const held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', () => resolve()));
  const heldPort = (held.address() as net.AddressInfo).port;
  try {
    const env = { NOTIFY_SOCKET: path.join(dir, 'notify.sock') };
    const base = ['--rules', RULES, '--data', path.join(dir, 'data'), '--payment-url', 'http://127.0.0.1:9', '--notify-host', '127.0.0.1', '--log-level', 'warn'];
    const outer = side(OUTER_MAIN, [...base, '--notify-port', '0'], env);
    const ready = await waitFor(() => systemd.messages.find((m) => m.fields.READY === '1'), `READY=1 (stderr: ${outer.err()})`);
    assert.match(ready.fields.STATUS ?? '', /^serving: notifications on http:\/\/127\.0\.0\.1:\d+\/v1\/notifications, relaying to 127\.0\.0\.1:9$/);
    outer.child.kill('SIGTERM');
    assert.is(await outer.exited, 0, outer.err());

    const busy = side(OUTER_MAIN, [...base, '--notify-port', String(heldPort)], env);
    assert.is(await busy.exited, SIDE_EXIT.cannotListen, busy.err());
    assert.is(busy.err(), `ferry: cannot listen on 127.0.0.1:${heldPort} (payment notification endpoint): address already in use (held by node, pid ${process.pid})\n`);
  } finally {
    systemd.stop();
    await new Promise<void>((resolve) => held.close(() => resolve()));
  }
});

test.run();
