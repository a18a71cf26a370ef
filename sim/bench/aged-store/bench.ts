// The store after months of a large hospital (npm run bench, step "aged store"): a store
// of `days` days at `paymentsPerDay` payments a day is generated in a temp dir
// (generate.ts), then measured as an operator meets it (measure.ts, a child with the inner
// side's V8 flags): its size on disk, the inner side's start on it, `ferry query` by
// patient, order and day, `ferry audit verify`, and a retention sweep with the worst
// event-loop stall while it runs. Figures only.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { verifyAudit } from '../../../runtime/inner/store/store.js';
import { sideFlags } from '../../load/processes.js';
import type { RetentionConfig } from '../../../runtime/rules/types.js';
import { DAY_MS, type AgedStoreFacts, type AgedStoreShape } from './generate.js';
import { AFTER_START_WATCH_MS, type AgedStoreMeasures, type MeasureJob } from './measure.js';

const GENERATOR = fileURLToPath(new URL('./generate.js', import.meta.url));
const MEASURE = fileURLToPath(new URL('./measure.js', import.meta.url));

// A child that prints one JSON value on stdout; its stderr is the bench's.
async function jsonOfChild<T>(what: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the aged store's ${what} exited with ${code}`);
  return JSON.parse(out) as T;
}


export interface AgedStoreResult extends AgedStoreMeasures {
  // `ferry audit verify` on the stopped store, in the bench's process: like the CLI, V8's
  // default flags, not the inner side's.
  auditVerify: { entries: number; seconds: number; perSecond: number; ok: boolean };
  days: number;
  paymentsPerDay: number;
  facts: AgedStoreFacts;
  generateSeconds: number;
  diskBytes: number;
  bytesPerPayment: number;
}

export async function runAgedStoreBench(o: { days: number; paymentsPerDay: number; sweepDays: number; say?: (line: string) => void }): Promise<AgedStoreResult> {
  const say = o.say ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-aged-store-'));
  const dataDir = path.join(dir, 'data');
  // Midnight UTC today: the generated days are the `days` before it.
  const endMs = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const retention: RetentionConfig = { paymentsDays: o.days, billsDays: o.days, registrationsDays: o.days, dispatchesDays: o.days, idempotencyDays: Math.min(30, o.days), auditDays: o.days };
  // (auditDays below 180 is refused in gateway.yaml; a small run uses it so that its sweep prunes the chain too.)
  try {
    say(`aged store: generating ${o.days} days x ${o.paymentsPerDay} payments`);
    const t = performance.now();
    const shape: AgedStoreShape = { days: o.days, paymentsPerDay: o.paymentsPerDay, endMs, idempotencyDays: retention.idempotencyDays };
    const facts = await jsonOfChild<AgedStoreFacts>('generator', [GENERATOR, dataDir, JSON.stringify(shape)]);
    const generateSeconds = (performance.now() - t) / 1000;
    const diskBytes = sizeOf(dataDir);
    say(`aged store: ${facts.payments} payments, ${facts.auditEntries} audit entries, ${(diskBytes / 2 ** 20).toFixed(0)} MiB in ${generateSeconds.toFixed(1)} s`);
    const job: MeasureJob = { facts, retention, endMs, sweepDays: o.sweepDays };
    const measures = await jsonOfChild<AgedStoreMeasures>('measurement', [...sideFlags('inner'), MEASURE, dataDir, JSON.stringify(job)]);
    const started = performance.now();
    const verdict = await verifyAudit(dataDir);
    const verifySeconds = (performance.now() - started) / 1000;
    const auditVerify = { entries: verdict.entries, seconds: verifySeconds, perSecond: verdict.entries / verifySeconds, ok: verdict.ok };
    say(`aged store: audit verify ${verdict.entries} entries in ${verifySeconds.toFixed(2)} s (${verdict.ok ? 'ok' : 'BROKEN'})`);
    return { days: o.days, paymentsPerDay: o.paymentsPerDay, facts, generateSeconds, diskBytes, bytesPerPayment: diskBytes / Math.max(1, facts.payments), ...measures, auditVerify };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).size;
  }
  return total;
}

export function formatAgedStore(r: AgedStoreResult): string[] {
  return [
    `aged store: ${r.days} days x ${r.paymentsPerDay} payments = ${r.facts.payments} payments, ${r.facts.auditEntries} audit entries, ${r.facts.keys} keys; ` +
      `${(r.diskBytes / 2 ** 20).toFixed(0)} MiB on disk = ${Math.round(r.bytesPerPayment)} bytes per payment (generated in ${r.generateSeconds.toFixed(0)} s); measured with the inner side's flags ${r.nodeFlags.join(' ') || 'none'}`,
    `aged store: start to serving ${r.startMs.toFixed(0)} ms (worst event-loop stall while starting ${r.startStallMs.toFixed(1)} ms); ` +
      `worst stall in the first ${AFTER_START_WATCH_MS / 1000} s serving ${r.servingStallMs.toFixed(1)} ms (longest run of its own ${r.servingOwnMs?.toFixed(1) ?? '?'} ms)` +
      `; the running side verifies the audit chain in ${r.onlineVerify.seconds.toFixed(2)} s, worst stall ${r.onlineVerify.worstStallMs.toFixed(1)} ms`,
    ...r.queries.map((q) => `aged store: query ${q.what}: ${q.rows} rows in ${q.ms.toFixed(1)} ms`),
    `aged store: audit verify ${r.auditVerify.entries} entries in ${r.auditVerify.seconds.toFixed(2)} s = ${Math.round(r.auditVerify.perSecond)} entries/s (${r.auditVerify.ok ? 'ok' : 'BROKEN'})`,
    `aged store: retention sweep ${r.retention.seconds.toFixed(1)} s, worst event-loop stall ${r.retention.worstStallMs.toFixed(1)} ms (p99 ${r.retention.p99StallMs.toFixed(1)} ms, ${r.retention.stallsOver10Ms} over 10 ms; ` +
      `longest run of its own between two ticks ${r.retention.ownWorstMs?.toFixed(1) ?? '?'} ms; ` +
      `the machine's own, 1 ms tasks for ${r.retention.control.seconds} s: worst ${r.retention.control.worstMs.toFixed(1)} ms, ${r.retention.control.over10} over 10 ms); pruned ${JSON.stringify(r.retention.pruned)}`,
  ];
}
