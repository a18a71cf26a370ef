// The aged-store step in a child process started as the inner side is (its V8 flags from
// common/node-flags.ts): the stalls it measures while the side starts, verifies and
// sweeps depend on the heap's settings, which the bench's own process does not share.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SIDE_NODE_FLAGS } from '../../../runtime/common/node-flags.js';
import type { AgedStoreResult } from './bench.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export async function runAgedStoreInChild(o: { days: number; paymentsPerDay: number; sweepDays: number }): Promise<AgedStoreResult> {
  const args = [...SIDE_NODE_FLAGS.inner, MAIN, '--days', String(o.days), '--payments-per-day', String(o.paymentsPerDay), '--sweep-days', String(o.sweepDays), '--json'];
  // Its progress lines go to this process's stderr as they come.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the aged-store step exited with ${code}`);
  return JSON.parse(out) as AgedStoreResult;
}
