// Each side says at start-up whether the kernel clock is synchronised: a warning when it
// is not (signatures beyond 300 s of drift fail), info when nothing on the host can tell.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../runtime/common/logger.js';
import { reportClockSync, systemClockProbe, type ClockReading, type CommandResult } from '../runtime/common/clock-sync.js';
import { EXAMPLE_RULES, PROJECT_DIR, tempDir } from './helpers/gateway.js';

const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');
// JSON log lines name their level.
const PINO_WARN = 'warn';
const PINO_INFO = 'info';
const WAIT_MS_MAX = 15_000;

interface Line { level: string; msg: string; clock?: string; source?: string }

function captured(): { log: ReturnType<typeof createLogger>; lines: Line[] } {
  const lines: Line[] = [];
  return { log: createLogger('test', 'info', { write: (l: string) => void lines.push(JSON.parse(l)) }), lines };
}

const reading = (r: ClockReading) => async () => r;

test('a side whose clock is not synchronised logs a warning at start-up', async () => {
  const { log, lines } = captured();
  await reportClockSync(log, reading({ state: 'unsynchronised', source: 'timedatectl' }));
  assert.is(lines.length, 1);
  assert.is(lines[0]!.level, PINO_WARN);
  assert.is(lines[0]!.clock, 'unsynchronised');
  assert.match(lines[0]!.msg, /not synchronised.*300 s/);
});

test('a side that cannot tell says "unknown" at info level, and a synchronised clock warns of nothing', async () => {
  const { log, lines } = captured();
  await reportClockSync(log, reading({ state: 'unknown', source: 'none', detail: 'timedatectl: not found' }));
  await reportClockSync(log, async () => { throw new Error('probe broke'); });
  await reportClockSync(log, reading({ state: 'synchronised', source: 'chronyc' }));
  assert.equal(lines.map((l) => [l.level, l.clock]), [[PINO_INFO, 'unknown'], [PINO_INFO, 'unknown'], [PINO_INFO, 'synchronised']]);
  assert.match(lines[0]!.msg, /unknown/);
});

// The commands' answers as Debian's tools print them.
function runner(answers: Record<string, CommandResult>): (file: string) => Promise<CommandResult> {
  return async (file) => answers[file] ?? { ok: false, stdout: '', error: `${file}: not found` };
}
const CHRONY_TRACKING = (leap: string) => `Reference ID    : CB00710A (203.0.113.10)\nStratum         : 3\nSystem time     : 0.000012 seconds fast of NTP time\nLeap status     : ${leap}\n`;

test('the probe reads timedatectl first, falls back to chronyc, and answers unknown when neither can tell', async () => {
  assert.is((await systemClockProbe(runner({ timedatectl: { ok: true, stdout: 'yes\n' } }))()).state, 'synchronised');
  assert.is((await systemClockProbe(runner({ timedatectl: { ok: true, stdout: 'no\n' } }))()).state, 'unsynchronised');
  const noSystemd = { ok: false, stdout: '', error: 'timedatectl: System has not been booted with systemd as init system (PID 1).' };
  assert.equal(await systemClockProbe(runner({ timedatectl: noSystemd, chronyc: { ok: true, stdout: CHRONY_TRACKING('Normal') } }))(), { state: 'synchronised', source: 'chronyc' });
  assert.equal(await systemClockProbe(runner({ chronyc: { ok: true, stdout: CHRONY_TRACKING('Not synchronised') } }))(), { state: 'unsynchronised', source: 'chronyc' });
  const unknown = await systemClockProbe(runner({ timedatectl: noSystemd }))();
  assert.is(unknown.state, 'unknown');
  assert.match(unknown.detail!, /systemd.*chronyc: not found/);
});

test('on this host the probe answers one of the three states without throwing', async () => {
  const r = await systemClockProbe()();
  console.log(`  this host: clock ${r.state} (${r.source}${r.detail ? `: ${r.detail}` : ''})`);
  assert.ok(['synchronised', 'unsynchronised', 'unknown'].includes(r.state));
});

// The real outer process, on a host whose timedatectl answers "no".
test('the outer side started on an unsynchronised clock logs the warning', async () => {
  const dir = tempDir('clock');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'timedatectl'), '#!/bin/sh\necho no\n', { mode: 0o755 });
  const child = spawn(process.execPath, [
    OUTER_MAIN, '--rules', EXAMPLE_RULES, '--data', dir, '--notify-host', '127.0.0.1', '--notify-port', '0',
    '--payment-url', 'http://127.0.0.1:9', '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + WAIT_MS_MAX;
    while (!/clock is not synchronised/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 25));
    const line = out.split('\n').find((l) => l.includes('clock is not synchronised'));
    assert.ok(line, `a warning in the outer log:\n${out}`);
    const parsed = JSON.parse(line!) as Line;
    assert.is(parsed.level, PINO_WARN);
    assert.is(parsed.source, 'timedatectl');
  } finally {
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
