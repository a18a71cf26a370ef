// What an operator reads: readable lines on a terminal, JSON lines with named levels and
// journald priorities under systemd, refusals that name the device or address and come
// one line per window however many there are, and a reload that says which gateway.yaml
// keys it could not apply.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, JOURNAL_PRIORITY, logOutputOf } from '../runtime/common/logger.js';
import { ManualClock } from '../runtime/common/clock.js';
import { REFUSAL_LOG_LIMITS, RefusalLog } from '../runtime/common/refusal-log.js';
import { copyRules, PROJECT_DIR, startTestGateway, tempDir, waitFor } from './helpers/gateway.js';
import { refusalCode } from './helpers/raw-mqtt.js';
import { freePort } from './helpers/processes.js';

const LOGGER = path.join(PROJECT_DIR, 'dist/runtime/common/logger.js');
const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const CHILD_WAIT_MS = 20_000;

type Line = Record<string, any>;
function captured(level = 'info'): { log: ReturnType<typeof createLogger>; lines: Line[]; raw: string[] } {
  const lines: Line[] = [];
  const raw: string[] = [];
  const log = createLogger('inner', level, { write: (s: string) => { raw.push(s); lines.push(JSON.parse(s)); } });
  return { log, lines, raw };
}

// A process that logs one warning through the logger factory, as the gateway's entry
// points do; `wrap` runs it under another command (script, for a terminal).
const LOG_ONE = `const { createLogger } = await import(${JSON.stringify(LOGGER)});
createLogger('inner').warn({ device: 'kiosk-01', password: 'hunter2' }, 'CONNECT refused');`;
function runLogger(o: { wrap?: 'script'; env?: NodeJS.ProcessEnv; stdout?: number } = {}): Promise<string> {
  const node = [process.execPath, '--input-type=module', '-e', LOG_ONE];
  return new Promise((resolve, reject) => {
    if (o.stdout !== undefined) {
      const child = spawn(node[0]!, node.slice(1), { stdio: ['ignore', o.stdout, 'inherit'], env: o.env ?? process.env });
      child.once('exit', () => resolve(''));
      child.once('error', reject);
      return;
    }
    // script(1) gives the command a pseudo-terminal as stdout: what a person at a console sees.
    const [file, ...args] = o.wrap === 'script' ? ['script', '-qec', node.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'] : node;
    execFile(file!, args, { timeout: CHILD_WAIT_MS, env: o.env ?? process.env }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

test('JSON log lines name their level and carry an ISO time, and credentials stay redacted', () => {
  const { log, lines } = captured('debug');
  log.warn({ device: 'kiosk-01', password: 'hunter2' }, 'CONNECT refused');
  log.child({ part: 'gap' }).debug('child line');
  assert.is(lines[0]!.level, 'warn');
  assert.is(lines[1]!.level, 'debug');
  assert.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.is(lines[0]!.password, '[redacted]');
  assert.is(lines[0]!.device, 'kiosk-01');
});

test('for the journal every line starts with its syslog priority', () => {
  const raw: string[] = [];
  const log = createLogger('inner', 'trace', { write: (s: string) => void raw.push(s) }, { journal: true });
  log.trace('t');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  log.fatal('f');
  assert.equal(raw.map((l) => l.slice(0, 3)), ['<7>', '<7>', '<6>', '<4>', '<3>', '<2>']);
  assert.is(JOURNAL_PRIORITY.warn, 4);
  const parsed = JSON.parse(raw[3]!.slice(3));
  assert.is(parsed.level, 'warn');
  assert.is(parsed.msg, 'w');
});

test('the journal is recognised only when JOURNAL_STREAM names stdout itself', () => {
  const dir = tempDir('journal');
  try {
    const fd = fs.openSync(path.join(dir, 'out'), 'w');
    try {
      const st = fs.fstatSync(fd);
      assert.equal(logOutputOf(false, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), { isTty: false, journal: true });
      assert.equal(logOutputOf(false, { JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd), { isTty: false, journal: false }, 'inherited, but stdout is elsewhere');
      assert.equal(logOutputOf(false, {}, fd), { isTty: false, journal: false });
      assert.equal(logOutputOf(true, { JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), { isTty: true, journal: false });
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a process whose stdout is the journal stream writes priority-prefixed JSON lines', async () => {
  const dir = tempDir('journal');
  try {
    const file = path.join(dir, 'journal');
    const fd = fs.openSync(file, 'w');
    const st = fs.fstatSync(fd);
    try {
      await runLogger({ stdout: fd, env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
    } finally {
      fs.closeSync(fd);
    }
    const line = fs.readFileSync(file, 'utf8');
    assert.match(line, /^<4>\{"level":"warn","time":"[^"]+Z"/);
    assert.is(JSON.parse(line.slice(3)).password, '[redacted]');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('on a terminal the lines are human-readable; through a pipe they are JSON', async () => {
  const env = { ...process.env, JOURNAL_STREAM: '' };
  const tty = await runLogger({ wrap: 'script', env });
  assert.match(tty, /WARN/);
  assert.match(tty, /\(inner\): /);
  assert.match(tty, /CONNECT refused/);
  assert.match(tty, /\[redacted\]/);
  assert.not.match(tty, /hunter2/);
  assert.not.match(tty, /"level"/);
  const piped = await runLogger({ env });
  const parsed = JSON.parse(piped);
  assert.is(parsed.level, 'warn');
  assert.is(parsed.msg, 'CONNECT refused');
});

test('the logger factory makes readable lines when its caller says stdout is a terminal', () => {
  const raw: string[] = [];
  const log = createLogger('inner', 'info', { write: (s: string) => void raw.push(s) }, { isTty: true });
  log.warn({ device: 'kiosk-01', token: 'abc' }, 'CONNECT refused');
  assert.is(raw.length, 1);
  assert.match(raw[0]!, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN \(inner\): CONNECT refused \{"device":"kiosk-01","token":"\[redacted\]"\}\n$/);
});

test('identical refusals are counted on the clock and written as one line per key per window', async () => {
  const clock = new ManualClock();
  const { log, lines } = captured();
  const refusals = new RefusalLog(log, clock);
  for (let i = 0; i < 1000; i++) refusals.refused('connect 10.0.0.9 bad_password', { remote: '10.0.0.9', device: 'kiosk-01', reason: 'bad_password' }, 'CONNECT refused');
  refusals.refused('connect 10.0.0.7 bad_password', { remote: '10.0.0.7', reason: 'bad_password' }, 'CONNECT refused');
  assert.is(lines.length, 0, 'nothing before the window closes');
  await clock.advance(REFUSAL_LOG_LIMITS.windowMs - 1);
  assert.is(lines.length, 0);
  await clock.advance(1);
  assert.is(lines.length, 2);
  const flood = lines.find((l) => l.remote === '10.0.0.9')!;
  assert.is(flood.count, 1000);
  assert.is(flood.msg, 'CONNECT refused (1000 times)');
  assert.is(flood.device, 'kiosk-01');
  assert.is(lines.find((l) => l.remote === '10.0.0.7')!.count, 1);
  // The next window starts afresh.
  refusals.refused('connect 10.0.0.9 bad_password', { remote: '10.0.0.9' }, 'CONNECT refused');
  refusals.flush();
  assert.is(lines.length, 3);
  assert.is(lines[2]!.count, 1);
  assert.is(clock.pending, 0, 'no timer left behind');
});

test('past the number of keys counted apart, further refusals share one line', async () => {
  const clock = new ManualClock();
  const { log, lines } = captured();
  const refusals = new RefusalLog(log, clock, { limits: { keysMax: 3 } });
  for (let i = 0; i < 10; i++) refusals.refused(`connect 10.0.0.${i} unknown_device`, { remote: `10.0.0.${i}` }, 'CONNECT refused');
  await clock.advance(REFUSAL_LOG_LIMITS.windowMs);
  assert.is(lines.length, 4);
  assert.is(lines.find((l) => l.keysMax === 3)!.count, 7);
});

test('a flood of 1,000 bad CONNECTs from one address makes one log line with count 1000 per window, naming the address and device', async () => {
  const clock = new ManualClock(Date.now());
  const { log, lines } = captured();
  const gw = await startTestGateway({ clock, log });
  try {
    const BATCH = 50;
    for (let sent = 0; sent < 1000; sent += BATCH) {
      const codes = await Promise.all(Array.from({ length: BATCH }, () => refusalCode(gw.mqttUrl, { clientId: 'kiosk-01', username: 'kiosk-01', reconnectPeriod: 0 })));
      assert.ok(codes.every((c) => c === 4), String(codes));
    }
    const refusedLines = () => lines.filter((l) => /^CONNECT refused/.test(l.msg));
    assert.equal(refusedLines(), [], 'counted, not yet written');
    await clock.advance(REFUSAL_LOG_LIMITS.windowMs);
    const [line, ...more] = refusedLines();
    assert.equal(more, []);
    assert.is(line!.count, 1000);
    assert.is(line!.level, 'warn');
    assert.is(line!.reason, 'no_password');
    assert.is(line!.device, 'kiosk-01');
    assert.match(line!.remote, /127\.0\.0\.1/);
    assert.is(gw.inner.broker.roster.seen('kiosk-01').refusals.connect, 1000);
  } finally {
    await gw.close();
  }
});

test('messages the gap refuses are logged one line per device, type and code per window', async () => {
  const clock = new ManualClock(Date.now());
  const { log, lines } = captured();
  const gw = await startTestGateway({ clock, log });
  try {
    const desk = await gw.device('billing-01');
    for (let i = 0; i < 5; i++) {
      const refused = await desk.request('bill.status', { billId: `B-NOT-THERE-${i}` });
      assert.is((refused.body as { code: string }).code, 'BILL_NOT_FOUND');
    }
    await clock.advance(REFUSAL_LOG_LIMITS.windowMs);
    const gapLines = lines.filter((l) => l.part === 'gap' && /refused/.test(l.msg));
    assert.is(gapLines.length, 1, JSON.stringify(gapLines));
    assert.is(gapLines[0]!.count, 5);
    assert.is(gapLines[0]!.device, 'billing-01');
    assert.is(gapLines[0]!.code, 'BILL_NOT_FOUND');
    assert.is(gapLines[0]!.type, 'bill.status');
  } finally {
    await gw.close();
  }
});

test('a reload that meets a changed gateway.yaml port logs the key that needs a restart (in-process)', async () => {
  const rulesDir = copyRules();
  const { log, lines } = captured();
  const gw = await startTestGateway({ rulesDir, log });
  try {
    assert.equal(await gw.inner.reloadRules(), { ok: true, dropped: 0 });
    assert.equal(lines.filter((l) => l.restartNeeded), [], 'nothing changed: nothing to report');
    const file = path.join(rulesDir, 'gateway.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  port: 8470 ', '  port: 8471 ').replace('  level: info', '  level: debug'));
    assert.equal(await gw.inner.reloadRules(), { ok: true, dropped: 0 });
    const line = lines.find((l) => l.restartNeeded)!;
    assert.equal(line.restartNeeded, ['log.level', 'management.port']);
    assert.is(line.level, 'warn');
    assert.match(line.msg, /management\.port/);
    assert.is(gw.inner.query.managementUrl()!.endsWith(':8471'), false, 'the running port stays');
  } finally {
    await gw.close();
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
});

test('SIGHUP to the inner process with a changed MQTT port names mqtt.port as needing a restart, and applies the rest', async () => {
  const rulesDir = copyRules();
  const dataDir = tempDir('data');
  const port = await freePort();
  const child = spawn(process.execPath, [
    INNER_MAIN, '--rules', rulesDir, '--data', dataDir, '--mqtt-host', '127.0.0.1', '--mqtt-port', String(port),
    '--management-port', '0', '--log-level', 'info',
  ], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, JOURNAL_STREAM: '' } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const parsedLines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  try {
    await waitFor(() => /inner side ready/.test(out) || child.exitCode !== null, CHILD_WAIT_MS, 'the inner side to start');
    const file = path.join(rulesDir, 'gateway.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  port: 1883 ', '  port: 1884 '));
    child.kill('SIGHUP');
    await waitFor(() => parsedLines().some((l) => l.restartNeeded), CHILD_WAIT_MS, 'the restart note');
    const line = parsedLines().find((l) => l.restartNeeded)!;
    assert.equal(line.restartNeeded, ['mqtt.port']);
    assert.is(line.level, 'warn');
    assert.ok(parsedLines().some((l) => l.msg === 'rule files reloaded'), 'the other files were reloaded');
  } finally {
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(rulesDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
