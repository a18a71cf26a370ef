// `ferry start` keeps both sides running: a crashed child is restarted with backoff,
// and stopping the supervisor stops everything.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { Supervisor } from '../runtime/supervisor/supervisor.js';
import { PROJECT_DIR, quietLog, tempDir, waitFor } from './helpers/gateway.js';

const CHILD = path.join(PROJECT_DIR, 'dist/test/fixtures/crashing-child.js');

function starts(file: string): number[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
}

test('a child that crashes is restarted, with growing delays, until the supervisor stops', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'crasher', script: CHILD, args: [file, 'crash'] }], quietLog);
  supervisor.start();
  try {
    await waitFor(() => starts(file).length >= 3, 10_000, 'three starts');
  } finally {
    await supervisor.stop();
  }
  const count = starts(file).length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(starts(file).length, count, 'no restart after stop');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a child killed with SIGKILL is started again, and stop ends the new one', async () => {
  const dir = tempDir('supervisor');
  const file = path.join(dir, 'starts');
  const supervisor = new Supervisor([{ name: 'steady', script: CHILD, args: [file, 'stay'] }], quietLog);
  supervisor.start();
  try {
    await waitFor(() => starts(file).length === 1, 5000, 'the first start');
    const first = supervisor.pid('steady')!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => starts(file).length === 2, 5000, 'the restart');
    const second = supervisor.pid('steady')!;
    assert.is.not(second, first);
    await supervisor.stop();
    assert.throws(() => process.kill(second, 0), 'the restarted child is gone after stop');
  } finally {
    await supervisor.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
