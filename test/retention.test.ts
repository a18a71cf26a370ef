// Retention: closed records older than their kind's days are pruned (undelivered
// outbox messages past the idempotency days too), open ones never are, and the audit log is pruned behind checkpoints so that it still verifies.
// The store runs on an injected clock; records are written as their modules write them.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quietLog, tempDir, copyRules } from './helpers/gateway.js';
import { ferry } from './helpers/management.js';
import { openRawStore, openTestStore, removeStoreArtefacts, storeRulesArgs, verifyTestAudit } from './helpers/store-backend.js';
import { auditKey, type Store } from '../runtime/inner/store/index.js';
import { Retention } from '../runtime/inner/retention/retention.js';
import { AUDIT_PRUNE_CHUNK } from '../runtime/inner/retention/audit-prune.js';
import { RULE_DEFAULTS } from '../runtime/rules/defaults.js';
import { HospitalDay } from '../runtime/common/hospital-day.js';
import { loadRules } from '../runtime/rules/load.js';
import { RulesError } from '../runtime/rules/types.js';

const DAY_MS = 86_400_000;
const SHANGHAI = new HospitalDay('Asia/Shanghai');
const START = Date.parse('2025-01-10T08:00:00.000Z');
const OLD_AUDIT_ENTRIES = 2 * AUDIT_PRUNE_CHUNK + 200;

const dirs: string[] = [];
test.after(() => {
  for (const dir of dirs) {
    fs.rmSync(dir, { recursive: true, force: true });
    removeStoreArtefacts(dir);
  }
});

function clockAt(ms: number) {
  const clock = { ms, now: () => new Date(clock.ms) };
  return clock;
}

// One of each kind, old, in each state retention must tell apart.
async function seedOld(store: Store, at: string): Promise<void> {
  await store.transact((tx) => {
    const order = (orderId: string, status: string) => ({ orderId, device: 'kiosk-01', requestId: orderId, billId: 'B1', amount: 100, currency: 'CNY', method: 'code', description: 'x', status, createdAt: at, updatedAt: at });
    tx.put('order!P-final', order('P-final', 'succeeded'));
    tx.put('order!P-open', order('P-open', 'sent'));
    tx.put('journal!P-open', at);
    tx.put('notify!N-final', { orderId: 'P-final', status: 'succeeded' });
    tx.put('notify!N-open', { orderId: 'P-open', status: 'succeeded' });
    tx.put('refund!F-done', { refundId: 'F-done', orderId: 'P-final', amount: 50, currency: 'CNY', reason: 'r', status: 'succeeded', createdAt: at, updatedAt: at });
    tx.put('refundsOf!P-final!F-done', 'F-done');
    tx.put('refund!F-open', { refundId: 'F-open', orderId: 'P-final', amount: 50, currency: 'CNY', reason: 'r', status: 'requested', createdAt: at, updatedAt: at });
    tx.put('refundJournal!F-open', at);
    const bill = (billId: string, status: string) => ({ billId, reference: `INV-${billId}`, patientId: 'P-42', items: [], total: 100, currency: 'CNY', status, createdBy: 'billing-01', createdAt: at, ...(status === 'paid' ? { paidAt: at } : {}) });
    tx.put('bill!B-paid', bill('B-paid', 'paid'));
    tx.put('billsOf!P-42!B-paid', 'B-paid');
    tx.put('billRef!billing-01!INV-B-paid', 'B-paid');
    tx.put('bill!B-open', bill('B-open', 'open'));
    const reg = (registrationId: string, status: string) => ({ registrationId, dept: 'CARD', date: at.slice(0, 10), session: 'am', patientId: 'P-42', fee: 1500, status, createdAt: at, updatedAt: at });
    tx.put('reg!R-expired', reg('R-expired', 'expired'));
    tx.put('reg!R-held', reg('R-held', 'held'));
    const dispatch = (dispatchId: string, seq: number, status: string) => ({ dispatchId, dept: 'CARD', seq, priority: 'normal', patientId: 'P-42', symptoms: 's', status, createdAt: at, ...(status === 'acked' ? { ackedAt: at, ackedBy: 'ws-1' } : {}) });
    tx.put('dispatch!D-acked', dispatch('D-acked', 1, 'acked'));
    tx.put('dispatchByDept!CARD!000000000001', 'D-acked');
    tx.put('dispatch!D-queued', dispatch('D-queued', 2, 'queued'));
    tx.put('idem!kiosk-01!old', { hash: 'h', type: 'bill.query', at });
    tx.put('idem!kiosk-01!before-at-existed', { hash: 'h', type: 'bill.query' });
    tx.put('outbox!billing-01!M-old', { messageId: 'M-old', device: 'billing-01', type: 'bill.paid', body: {}, at });
  });
  for (let i = 0; i < OLD_AUDIT_ENTRIES; i++) await store.audit({ kind: 'test.old', i });
}

test('retention prunes closed records older than their days, keeps every open one, and the audit chain still verifies', async () => {
  const dataDir = tempDir('retention');
  dirs.push(dataDir);
  const clock = clockAt(START);
  let store = await openTestStore(dataDir, quietLog, { now: clock.now });
  await seedOld(store, clock.now().toISOString());
  clock.ms += 500 * DAY_MS;
  await store.transact((tx) => {
    tx.put('bill!B-new', { billId: 'B-new', reference: 'INV-new', patientId: 'P-43', items: [], total: 100, currency: 'CNY', status: 'paid', createdBy: 'billing-01', createdAt: clock.now().toISOString(), paidAt: clock.now().toISOString() });
    tx.put('idem!kiosk-01!new', { hash: 'h', type: 'bill.query', at: clock.now().toISOString() });
    tx.put('outbox!billing-01!M-new', { messageId: 'M-new', device: 'billing-01', type: 'bill.paid', body: {}, at: clock.now().toISOString() });
    tx.audit({ kind: 'test.new' });
  });
  const retention = new Retention({ store, config: RULE_DEFAULTS.retention, log: quietLog, day: SHANGHAI, now: clock.now });
  const report = await retention.run();
  assert.equal(report.pruned, { payments: 1, refunds: 1, notifications: 1, bills: 1, registrations: 1, dispatches: 1, idempotency: 1, outbox: 1, audit: OLD_AUDIT_ENTRIES });
  const keys = (await store.list('', { limit: 1000 })).map(([k]) => k).filter((k) => !k.startsWith('audit!') && !k.startsWith('meta!'));
  assert.equal(keys.sort(), [
    'bill!B-new', 'bill!B-open', 'dispatch!D-queued', 'idem!kiosk-01!before-at-existed', 'idem!kiosk-01!new',
    'journal!P-open', 'notify!N-open', 'order!P-open', 'reg!R-held', 'refund!F-open', 'refundJournal!F-open',
    'outbox!billing-01!M-new',
  ].sort());
  await store.close();

  const verdict = await verifyTestAudit(dataDir);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  assert.is(verdict.prunedThrough, OLD_AUDIT_ENTRIES);
  const cli = await ferry(['audit', 'verify', '--data', dataDir, ...await storeRulesArgs(dataDir)]);
  assert.is(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, new RegExp(`audit chain intact: \\d+ entries \\(entries up to ${OLD_AUDIT_ENTRIES} pruned`));

  // The store continues the chain after pruning, and a later run prunes the checkpoints too.
  store = await openTestStore(dataDir, quietLog, { now: clock.now });
  await store.audit({ kind: 'test.after_prune' });
  clock.ms += 400 * DAY_MS;
  await store.audit({ kind: 'test.much_later' });
  const second = await new Retention({ store, config: RULE_DEFAULTS.retention, log: quietLog, day: SHANGHAI, now: clock.now }).run();
  assert.ok(second.pruned.audit > 0);
  await store.close();
  assert.ok((await verifyTestAudit(dataDir)).ok);
});

test('retention counts whole days in the hospital\'s time zone, not 24-hour spans from now', async () => {
  const dataDir = tempDir('retention-day');
  dirs.push(dataDir);
  // 2026-11-26 07:00 in Beijing, still 2026-11-25 in UTC. With 1 day, today (the 26th) and
  // yesterday (the 25th) stay whole in Beijing; the 24th goes.
  const clock = clockAt(Date.parse('2026-11-26T07:00:00+08:00'));
  const store = await openTestStore(dataDir, quietLog, { now: clock.now });
  const order = (orderId: string, at: string) => ({ orderId, device: 'kiosk-01', requestId: orderId, billId: 'B1', amount: 100, currency: 'CNY', method: 'code', description: 'x', status: 'succeeded', createdAt: at, updatedAt: at });
  const reg = (registrationId: string, date: string) => ({ registrationId, dept: 'INT', date, session: 'morning', patientId: 'P-42', fee: 1000, status: 'expired', createdAt: '2026-11-20T01:00:00.000Z', updatedAt: '2026-11-20T01:00:00.000Z' });
  await store.transact((tx) => {
    tx.put('order!P-25th-0030', order('P-25th-0030', new Date('2026-11-25T00:30:00+08:00').toISOString()));
    tx.put('order!P-24th-2330', order('P-24th-2330', new Date('2026-11-24T23:30:00+08:00').toISOString()));
    tx.put('reg!R-visit-25th', reg('R-visit-25th', '2026-11-25'));
    tx.put('reg!R-visit-24th', reg('R-visit-24th', '2026-11-24'));
  });
  const config = { ...RULE_DEFAULTS.retention, paymentsDays: 1, registrationsDays: 1, idempotencyDays: 1 };
  const report = await new Retention({ store, config, log: quietLog, day: SHANGHAI, now: clock.now }).run();
  assert.is(report.pruned.payments, 1);
  assert.is(report.pruned.registrations, 1);
  const keys = (await store.list('', { limit: 100 })).map(([k]) => k).filter((k) => k.startsWith('order!') || k.startsWith('reg!'));
  assert.equal(keys, ['order!P-25th-0030', 'reg!R-visit-25th']);
  await store.close();
});

async function chainOf(n: number): Promise<string> {
  const dataDir = tempDir('retention-tamper');
  dirs.push(dataDir);
  const store = await openTestStore(dataDir, quietLog);
  for (let i = 0; i < n; i++) await store.audit({ kind: 'test.entry', i });
  return (await store.close(), dataDir);
}

async function deleteRaw(dataDir: string, seqs: number[]): Promise<void> {
  const db = await openRawStore(dataDir);
  for (const seq of seqs) await db.del(auditKey(seq));
  await db.close();
}

test('oldest audit entries deleted without a checkpoint are reported as deleted', async () => {
  const dataDir = await chainOf(10);
  await deleteRaw(dataDir, [1, 2, 3]);
  const verdict = await verifyTestAudit(dataDir);
  assert.not.ok(verdict.ok);
  assert.is(verdict.firstBroken!.seq, 4);
  assert.match(verdict.firstBroken!.reason, /entries before seq 4 are missing and no checkpoint covers them/);
});

test('an entry deleted right after what a checkpoint covers is reported', async () => {
  const dataDir = await chainOf(10);
  const clock = clockAt(Date.now() + 400 * DAY_MS);
  const store = await openTestStore(dataDir, quietLog, { now: clock.now });
  await store.audit({ kind: 'test.new' });
  await store.audit({ kind: 'test.new' });
  const report = await new Retention({ store, config: RULE_DEFAULTS.retention, log: quietLog, day: SHANGHAI, now: clock.now }).run();
  assert.is(report.pruned.audit, 10);
  await store.close();
  assert.ok((await verifyTestAudit(dataDir)).ok);
  await deleteRaw(dataDir, [11]);
  const verdict = await verifyTestAudit(dataDir);
  assert.not.ok(verdict.ok);
  assert.match(verdict.firstBroken!.reason, /covers only up to seq 10/);
});

function rulesWith(edit: (text: string) => string): string {
  const dir = copyRules();
  dirs.push(dir);
  const file = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
  return dir;
}

function problems(dir: string): string {
  try {
    loadRules(dir);
  } catch (err) {
    assert.instance(err, RulesError);
    return (err as Error).message;
  }
  return assert.unreachable('the rules load') as never;
}

test('an audit retention under 180 days is refused with file:line', () => {
  const dir = rulesWith((t) => t.replace(/auditDays: \d+/, 'auditDays: 90'));
  const line = fs.readFileSync(path.join(dir, 'gateway.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('auditDays: 90')) + 1;
  assert.match(problems(dir), new RegExp(`gateway\\.yaml:${line}:\\d+: retention\\.auditDays: the audit log is kept at least 180 days`));
});

test('idempotency records kept longer than what they point at, and short management tokens, are refused', () => {
  assert.match(problems(rulesWith((t) => t.replace(/idempotencyDays: \d+/, 'idempotencyDays: 500'))), /retention\.idempotencyDays: must not exceed/);
  assert.match(problems(rulesWith((t) => t.replace(/  token: .*/, '  token: short'))), /gateway\.yaml:\d+:\d+: management\.token: the token must be at least 32 characters/);
  assert.match(problems(rulesWith((t) => t.replace(/  adminToken: .*/, '  adminToken: DEMO-ONLY-query-token-0123456789abcdef'))), /management\.adminToken: must differ from the read token/);
});

test.run();
