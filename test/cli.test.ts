// The `ferry` command end to end, as an operator runs it: real child processes of the
// compiled bin/ferry.js, real ports, a real data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canConnect } from '../sim/gateway-processes.js';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FERRY = path.join(PROJECT_DIR, 'bin/ferry.js');
const RULES = path.join(PROJECT_DIR, 'rules');
const COMMANDS_DIR = path.join(PROJECT_DIR, 'dist/runtime/cli/commands');

// Named limits: a command that takes longer than this is taken as hung and killed.
const COMMAND_TIMEOUT_MS = 30_000;
const GATEWAY_START_TIMEOUT_MS = 20_000;
const GATEWAY_STOP_TIMEOUT_MS = 20_000;
const OUTPUT_BYTES_MAX = 4 * 1024 * 1024;

const tempDirs: string[] = [];
const started = new Set<ChildProcess>();
const childPids = new Set<number>();

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-cli-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Starts `ferry ...` in its own process group, so that the after hook can end it and
// whatever it started even when a test fails half way.
function ferry(args: string[]): Running {
  const child = spawn(process.execPath, [FERRY, ...args], { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => { if (out.length < OUTPUT_BYTES_MAX) out += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { if (err.length < OUTPUT_BYTES_MAX) err += chunk.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, out: () => out, err: () => err, exited };
}

// Runs a command to its end; one that hangs is killed and fails the test.
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = ferry(args);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
  const { code, signal } = await r.exited;
  clearTimeout(timer);
  assert.is(signal, null, `ferry ${args.join(' ')} was killed (hung?)\n${r.err()}`);
  return { code, stdout: r.out(), stderr: r.err() };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function logLines(text: string): Array<Record<string, any>> {
  return text.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, any>];
    } catch {
      return [];
    }
  });
}

test.after(async () => {
  for (const r of started) {
    try {
      process.kill(-r.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const pid of childPids) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

test('ferry --help lists every command', async () => {
  const { code, stdout } = await run(['--help']);
  assert.is(code, 0);
  const files = fs.readdirSync(COMMANDS_DIR).filter((f) => f.endsWith('.js'));
  assert.ok(files.length >= 8, 'the command modules are compiled');
  for (const file of files) {
    const { command } = await import(path.join(COMMANDS_DIR, file)) as { command: { name: string; summary: string } };
    assert.ok(stdout.includes(`ferry ${command.name} `), `--help lists ferry ${command.name}`);
    assert.ok(stdout.includes(command.summary), `--help gives the summary of ${command.name}`);
  }
});

test('an unknown command exits 2 and says so', async () => {
  const { code, stderr } = await run(['nonsense']);
  assert.is(code, 2);
  assert.match(stderr, /unknown command "nonsense"/);
});

test('ferry --version and -V print the version from package.json and the commit it was built from', async () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string };
  const infoFile = path.join(PROJECT_DIR, 'dist/build-info.json');
  const commit = fs.existsSync(infoFile) ? (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { commit: string }).commit : 'unknown';
  for (const flag of ['--version', '-V']) {
    const { code, stdout } = await run([flag]);
    assert.is(code, 0);
    assert.is(stdout, `ferry ${version} (${commit})\n`);
  }
  assert.match(commit, /^([0-9a-f]{4,40}(-dirty)?|unknown)$/);
});

test('ferry start with the MQTT port taken says so in one line naming the port and its holder, stops the other parts and exits 1', async () => {
  const held = net.createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', () => resolve()));
  const port = (held.address() as net.AddressInfo).port;
  try {
    const dir = tempDir('busy');
    const { code, stdout, stderr } = await run([
      'start', '--rules', RULES, '--data', path.join(dir, 'data'), '--mqtt-host', '127.0.0.1', '--mqtt-port', String(port),
      '--notify-host', '127.0.0.1', '--notify-port', String(await freePort()), '--sim-port', String(await freePort()), '--management-port', String(await freePort()),
    ]);
    assert.is(code, 1, stderr);
    assert.is(stderr, `ferry: cannot listen on 127.0.0.1:${port} (MQTT): address already in use (held by node, pid ${process.pid})\n`);
    const lines = logLines(stdout);
    assert.is(lines.filter((l) => l.msg === 'child started' && l.child === 'inner').length, 1, 'the inner side was not restarted');
    assert.not.ok(lines.some((l) => l.msg === 'child exited; restarting'), 'no part was restarted');
    for (const l of lines) if (l.msg === 'child started') assert.not.ok(alive(l.pid as number), `${l.child} is stopped`);
    const innerFirst = lines.find((l) => l.proc === 'inner');
    assert.is(innerFirst?.msg, 'ferry inner side starting', 'the inner side\'s first log line says which ferry it is');
    assert.match(String(innerFirst?.version), /^\d+\.\d+\.\d+/);
    assert.is(innerFirst?.node, process.versions.node, 'and the Node.js it runs on');
  } finally {
    await new Promise<void>((resolve) => held.close(() => resolve()));
  }
});

test('ferry query reaches a gateway on the management address of its gateway.yaml, a 0.0.0.0 listener through loopback', async () => {
  const dir = tempDir('management');
  const rules = path.join(dir, 'rules');
  fs.cpSync(RULES, rules, { recursive: true });
  const managementPort = await freePort();
  const file = path.join(rules, 'gateway.yaml');
  const yaml = fs.readFileSync(file, 'utf8').replace(/^management:\n {2}host: 127\.0\.0\.1( .*)?\n {2}port: 8470/m, `management:\n  host: 0.0.0.0\n  port: ${managementPort}`);
  assert.ok(yaml.includes(`port: ${managementPort}`), 'the test edits the management section');
  fs.writeFileSync(file, yaml);
  const gateway = ferry([
    'start', '--rules', rules, '--data', path.join(dir, 'data'), '--log-level', 'info',
    '--mqtt-host', '127.0.0.1', '--mqtt-port', String(await freePort()),
    '--notify-host', '127.0.0.1', '--notify-port', String(await freePort()), '--sim-port', String(await freePort()),
  ]);
  try {
    let exitedEarly = false;
    gateway.exited.then(() => { exitedEarly = true; });
    await waitFor(() => exitedEarly || logLines(gateway.out()).some((l) => l.msg === 'inner side ready'), GATEWAY_START_TIMEOUT_MS, 'the gateway to start');
    assert.not.ok(exitedEarly, gateway.err());
    const query = await run(['query', 'payments', '--rules', rules, '--format', 'jsonl']);
    assert.is(query.code, 0, query.stderr);
    const elsewhere = await run(['query', 'payments', '--rules', RULES, '--management-port', String(await freePort())]);
    assert.is(elsewhere.code, 1, 'another port is not the gateway');
    assert.match(elsewhere.stderr, /cannot reach the management API at http:\/\/127\.0\.0\.1:\d+/);
  } finally {
    gateway.child.kill('SIGTERM');
    const timer = setTimeout(() => gateway.child.kill('SIGKILL'), GATEWAY_STOP_TIMEOUT_MS);
    await gateway.exited;
    clearTimeout(timer);
  }
});

test('ferry start on a broken rule file exits non-zero, names file:line and starts nothing', async () => {
  const dir = tempDir('broken');
  const rules = path.join(dir, 'rules');
  fs.cpSync(RULES, rules, { recursive: true });
  const file = path.join(rules, 'roles.yaml');
  fs.writeFileSync(file, `${fs.readFileSync(file, 'utf8')}\n  broken: [unclosed\n`);
  const data = path.join(dir, 'data');
  const mqttPort = await freePort();
  const { code, stdout, stderr } = await run([
    'start', '--rules', rules, '--data', data, '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort),
    '--notify-port', String(await freePort()), '--sim-port', String(await freePort()),
  ]);
  assert.is(code, 1, stderr);
  assert.match(stderr, /refusing to start/);
  assert.match(stderr, /roles\.yaml:\d+/);
  assert.not.match(stdout, /child started/);
  assert.not.ok(fs.existsSync(data), 'no data directory was made');
  assert.not.ok(await canConnect(mqttPort), 'no broker is listening');
});

test('ferry start runs the gateway with the embedded simulator; the sims pay a bill; SIGTERM stops it cleanly; the audit chain verifies', async () => {
  const dir = tempDir('gateway');
  const data = path.join(dir, 'data');
  const [mqttPort, notifyPort, simPort, managementPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const url = `mqtt://127.0.0.1:${mqttPort}`;
  const gateway = ferry([
    'start', '--rules', RULES, '--data', data, '--log-level', 'info',
    '--mqtt-host', '127.0.0.1', '--mqtt-port', String(mqttPort),
    '--notify-host', '127.0.0.1', '--notify-port', String(notifyPort), '--sim-port', String(simPort),
    '--management-port', String(managementPort),
  ]);
  const logged = (msg: string) => logLines(gateway.out()).some((l) => l.msg === msg);
  let exitedEarly = false;
  gateway.exited.then(() => { exitedEarly = true; });
  await waitFor(() => exitedEarly || (logged('inner side ready') && logged('connected to the inner side')), GATEWAY_START_TIMEOUT_MS, 'the gateway to start');
  assert.not.ok(exitedEarly, `ferry start exited early:\n${gateway.err()}`);
  for (const line of logLines(gateway.out())) if (line.msg === 'child started') childPids.add(line.pid as number);
  assert.is(childPids.size, 3, 'payment simulator, inner and outer were started');
  assert.ok(logLines(gateway.out()).some((l) => /embedded payment-server simulator/.test(l.msg)), 'the log says the simulator is embedded');

  const patient = `P-${process.pid}`;
  const bill = await run([
    'sim', 'billing-desk', 'create-bill', '--patient', patient, '--reference', `INV-${process.pid}`,
    '--item', 'LAB-CBC:Blood-count:1:3500', '--item', 'MED-AMX:Amoxicillin:2:1250', '--url', url,
  ]);
  assert.is(bill.code, 0, bill.stderr);
  assert.match(bill.stdout, /bill B\S+ created/);

  // The kiosk is given a pair's two addresses, the first with nothing listening (a standby).
  const pay = await run(['sim', 'kiosk', 'pay-bill', '--patient', patient, '--method', 'code', '--url', `mqtt://127.0.0.1:${await freePort()},${url}`]);
  assert.is(pay.code, 0, pay.stderr);
  assert.match(pay.stdout, /payment succeeded/);

  // While it runs the gateway holds the store: audit verify asks it instead.
  // Given the same override as `ferry start`, the commands find the management API.
  const live = await run(['audit', 'verify', '--data', data, '--rules', RULES, '--management-port', String(managementPort)]);
  assert.is(live.code, 0, live.stderr);
  assert.match(live.stdout, /audit chain intact/);
  assert.match(live.stderr, /the gateway is running/);
  const payments = await run(['query', 'payments', '--rules', RULES, '--management-port', String(managementPort), '--format', 'jsonl']);
  assert.is(payments.code, 0, payments.stderr);
  assert.is(payments.stdout.trim().split('\n').length, 1, 'the one payment is listed');

  const stopTimer = setTimeout(() => gateway.child.kill('SIGKILL'), GATEWAY_STOP_TIMEOUT_MS);
  gateway.child.kill('SIGTERM');
  const { code, signal } = await gateway.exited;
  clearTimeout(stopTimer);
  assert.is(signal, null, 'ferry start ended by itself, not killed');
  assert.is(code, 0, gateway.err());
  for (const pid of childPids) assert.not.ok(alive(pid), `child ${pid} is gone`);

  const verify = await run(['audit', 'verify', '--data', data]);
  assert.is(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /audit chain intact/);
});

test.run();
