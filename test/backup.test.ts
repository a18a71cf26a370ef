// `ferry backup` and `ferry restore` on a real gateway and real files: a backup taken
// while payments go on is one consistent moment of the store, restores into another
// directory with the same records and audit head, and a gateway starts on it; a damaged,
// truncated or altered file, or a running gateway's directory, is refused and changes
// nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Store } from '../runtime/inner/store/index.js';
import { KEYSPACE } from '../runtime/inner/store/keyspace.js';
import { BACKUP_AUDIT_KIND } from '../runtime/inner/management/backup-route.js';
import { readBackup } from '../runtime/inner/store/backup-file.js';
import { batchesOf } from '../runtime/inner/store/snapshot.js';
import { FINAL, journalKey, orderKey, type Order } from '../runtime/inner/payments/order.js';
import { generateAgedStore } from '../sim/bench/aged-store/generate.js';
import { LOAD_RATE, copyRules, startTestGateway, tempDir, waitFor, type TestGateway } from './helpers/gateway.js';
import { asBackedUp, dumpStore } from './helpers/previous-format.js';
import { INSTANCE_KEY } from '../runtime/inner/ids.js';
import { api, ferry, managementUrl, payBill, tokens } from './helpers/management.js';

const dirs: string[] = [];
const newDir = (name: string) => {
  const dir = tempDir(name);
  dirs.push(dir);
  return dir;
};

let gw: TestGateway;
let rulesDir: string;
let tokenFile: string;
let backupFile: string; // taken while payments went on
const paidDuring: string[] = []; // orders paid one after another around the backup

test.before(async () => {
  // A store with some history (bulk-written, as months of a hospital leave it, at a small
  // size), so that the backup takes long enough for payments to commit while it streams.
  const dataDir = newDir('backup-data');
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  await generateAgedStore(dataDir, { days: 2, paymentsPerDay: 1_500, endMs: today, idempotencyDays: 1 });
  rulesDir = copyRules({ rate: LOAD_RATE });
  dirs.push(rulesDir);
  gw = await startTestGateway({ dataDir, rulesDir });
  tokenFile = path.join(newDir('backup-token'), 'admin-token');
  fs.writeFileSync(tokenFile, tokens(gw).admin);
});

test.after(async () => {
  await gw.close({ keepData: true });
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const backup = (file: string) => ferry(['backup', '--out', file, '--url', managementUrl(gw), '--token-file', tokenFile]);

async function liveDump(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const batch of batchesOf(await store.snapshot())) for (const [k, v] of batch) out.set(k, v);
  return out;
}

test('a backup needs the admin token', async () => {
  const res = await api(gw, 'GET', '/v1/backup', tokens(gw).read);
  assert.is(res.status, 403);
  assert.is(res.json.error, 'FORBIDDEN');
});

test('a backup taken while payments go on is one moment of the store: every order agrees with its journal, and the audit chain is the live one up to its head', async () => {
  backupFile = path.join(newDir('backup-out'), 'gw.ferrybak');
  let stop = false;
  const payments = (async () => {
    for (let i = 0; !stop && i < 200; i++) paidDuring.push((await payBill(gw, `P-BK${i % 7}`)).orderId);
  })();
  await payBill(gw, 'P-BKX'); // payments are flowing before the backup starts
  const taken = await backup(backupFile);
  stop = true;
  await payments;
  assert.is(taken.code, 0, taken.stderr);
  assert.match(taken.stdout, 'backup written:');
  assert.is((fs.statSync(backupFile).mode & 0o777), 0o600, 'readable by its owner only');
  assert.equal(fs.readdirSync(path.dirname(backupFile)), ['gw.ferrybak'], 'no temporary file left');

  const rows = new Map<string, string>();
  const { header, trailer } = await readBackup(backupFile, { keys: (batch) => batch.forEach(([k, v]) => rows.set(k, v)) });
  assert.is(trailer.keys, rows.size);
  assert.ok(rows.size > 30_000, `${rows.size} keys`);
  const auditKeys = [...rows.keys()].filter((k) => k.startsWith(KEYSPACE.audit.prefix));
  const last = JSON.parse(rows.get(auditKeys.at(-1)!)!) as { seq: number; hash: string };
  assert.equal({ seq: last.seq, hash: last.hash }, header.auditHead);
  // Taken just before the snapshot: payments that committed in between may follow it.
  const kinds = auditKeys.slice(-50).map((k) => (JSON.parse(rows.get(k)!) as { event: { kind: string } }).event.kind);
  assert.ok(kinds.includes(BACKUP_AUDIT_KIND), 'the backup holds the entry that says it was taken');
  // Payments committed while it streamed are not in it, and it is not torn.
  const live = await liveDump(gw.inner.store);
  assert.ok(live.size > rows.size, 'payments went on during the backup');
  for (const k of auditKeys) assert.is(rows.get(k), live.get(k), `${k} as the live chain has it`);
  // Payments ran one after another: the backup holds the first ones of them and none after.
  const held = paidDuring.map((id) => rows.has(orderKey(id)));
  assert.ok(held.length > 0);
  assert.is(held.indexOf(false) === -1 ? held.length : held.indexOf(false), held.filter(Boolean).length, `a prefix of the payments: ${held.map(Number).join('')}`);
  for (const [k, v] of rows) {
    if (!k.startsWith(KEYSPACE.order.prefix)) continue;
    const order = JSON.parse(v) as Order;
    assert.is(rows.has(journalKey(order.orderId)), !FINAL.has(order.status), `${order.orderId} (${order.status}) and its journal entry`);
  }
});

test('the backup restored into another directory has the same orders, bills and audit head, and a gateway starts on it', async () => {
  const target = newDir('restore-into');
  // DIR belongs to the gateway's user; the operator restores as root.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) fs.chownSync(target, 65534, 65534);
  const restored = await ferry(['restore', backupFile, '--data', target]);
  assert.is(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, 'audit chain intact');
  assert.equal(fs.readdirSync(target), ['store'], 'no temporary directory left');
  if (asRoot) {
    for (const name of ['', 'CURRENT']) assert.is(fs.statSync(path.join(target, 'store', name)).uid, 65534, `store/${name} is the owner's of DIR`);
  }
  const rows = new Map<string, string>();
  const { header } = await readBackup(backupFile, { keys: (batch) => batch.forEach(([k, v]) => rows.set(k, v)) });
  assert.equal(asBackedUp(await dumpStore(target), rows, header.auditHead.seq), rows, 'every key as the backup holds it, with a new instance tag and an entry saying so');

  const again = await startTestGateway({ dataDir: target, rulesDir });
  try {
    assert.is(again.inner.store.auditHead.seq, header.auditHead.seq + 1, 'the chain continues from the backup\'s head and the restore\'s entry');
    const [, order] = (await again.inner.store.list<Order>(KEYSPACE.order.prefix, { limit: 1 }))[0]!;
    assert.is((await again.inner.store.get<Order>(orderKey(order.orderId)))?.status, 'succeeded');
    const { orderId } = await payBill(again, 'P-AFTER');
    assert.is(again.sim.chargesFor(orderId), 1, 'the restored gateway takes payments');
    assert.not.ok(orderId.includes(`-${JSON.parse(rows.get(INSTANCE_KEY)!)}-`), 'under a new instance tag: no id handed out after the backup comes again');
    assert.ok((await again.inner.store.verifyAudit()).ok);
  } finally {
    await again.close({ keepData: true });
  }
  // And a backup of a quiet gateway, restored, is its store key for key.
  const quiet = path.join(newDir('backup-quiet'), 'quiet.ferrybak');
  assert.is((await backup(quiet)).code, 0);
  const live = await liveDump(gw.inner.store);
  const copy = newDir('restore-quiet');
  assert.is((await ferry(['restore', quiet, '--data', copy])).code, 0);
  assert.equal(asBackedUp(await dumpStore(copy), live, gw.inner.store.auditHead.seq), live);
  const audit = await ferry(['audit', 'verify', '--data', copy]);
  assert.is(audit.code, 0, audit.stdout);
});

// The file's lines, and the file again from lines with a checksum and count that fit.
const linesOf = (file: string) => gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').slice(0, -1);
function rewrite(file: string, lines: string[]): void {
  const body = lines.filter((l) => !l.startsWith('{"end":'));
  const text = body.map((l) => `${l}\n`).join('');
  const sha256 = createHash('sha256').update(text).digest('hex');
  fs.writeFileSync(file, gzipSync(`${text}${JSON.stringify({ end: { keys: body.length - 1, sha256 } })}\n`));
}

async function refused(file: string, why: RegExp): Promise<void> {
  // Onto an existing store, with --force: a refusal must leave it exactly as it was.
  const target = newDir('restore-refused');
  assert.is((await ferry(['restore', backupFile, '--data', target])).code, 0);
  const before = await dumpStore(target);
  const r = await ferry(['restore', file, '--data', target, '--force']);
  assert.is(r.code, 1, r.stdout);
  assert.match(r.stderr, why);
  assert.equal(fs.readdirSync(target), ['store'], 'nothing left beside it');
  assert.equal(await dumpStore(target), before, 'the store in DIR is untouched');
}

test('a backup with one byte changed, or cut short, is refused and DIR is untouched', async () => {
  const dir = newDir('tampered');
  const bytes = fs.readFileSync(backupFile);
  const flipped = Buffer.from(bytes);
  const middle = Math.floor(flipped.length / 2);
  flipped[middle] = flipped[middle]! ^ 0x01;
  fs.writeFileSync(path.join(dir, 'flipped.ferrybak'), flipped);
  await refused(path.join(dir, 'flipped.ferrybak'), /not a whole gzip file|SHA-256|not a key and its value/);
  fs.writeFileSync(path.join(dir, 'cut.ferrybak'), bytes.subarray(0, Math.floor(bytes.length * 0.7)));
  await refused(path.join(dir, 'cut.ferrybak'), /truncated|not a whole gzip file/);
  // A value changed inside, the gzip made anew: the checksum says so.
  const lines = linesOf(backupFile);
  const at = lines.findIndex((l) => l.startsWith(`["${KEYSPACE.bill.prefix}`));
  lines[at] = lines[at]!.replace('paid', 'open');
  fs.writeFileSync(path.join(dir, 'edited.ferrybak'), gzipSync(`${lines.join('\n')}\n`));
  await refused(path.join(dir, 'edited.ferrybak'), /SHA-256 is [0-9a-f]{64}, the trailer says/);
});

test('a backup whose audit chain was altered and checksummed again is refused by the chain check', async () => {
  const dir = newDir('rechained');
  const lines = linesOf(backupFile);
  const at = lines.findIndex((l) => l.startsWith(`["${KEYSPACE.audit.prefix}`) && l.includes('payment.accepted'));
  lines[at] = lines[at]!.replace(/\\"amount\\":(\d+)/, (_m, n: string) => `\\"amount\\":${Number(n) + 100}`);
  rewrite(path.join(dir, 'edited.ferrybak'), lines);
  await refused(path.join(dir, 'edited.ferrybak'), /audit chain in the backup is broken at entry \d+ .*hash mismatch/);
  // The newest entries dropped: a chain that verifies, but is not the one the header names.
  const cut = linesOf(backupFile);
  let lastAudit = cut.length - 1;
  while (!cut[lastAudit]!.startsWith(`["${KEYSPACE.audit.prefix}`)) lastAudit -= 1;
  cut.splice(lastAudit, 1);
  rewrite(path.join(dir, 'shortened.ferrybak'), cut);
  await refused(path.join(dir, 'shortened.ferrybak'), /restored audit chain ends at seq \d+ .*but the backup's header names seq/);
});

test('one backup at a time; a client that stops reading holds it until it goes away', async () => {
  const get = (signal: AbortSignal) => fetch(`${managementUrl(gw)}/v1/backup`, { headers: { authorization: `Bearer ${tokens(gw).admin}` }, signal });
  const first = new AbortController();
  const stalled = await get(first.signal); // its body is never read: the stream waits
  assert.is(stalled.status, 200);
  assert.is(stalled.headers.get('content-type'), 'application/gzip');
  const second = await get(AbortSignal.timeout(30_000));
  assert.is(second.status, 409);
  assert.is(((await second.json()) as { error: string }).error, 'BACKUP_BUSY');
  first.abort();
  await waitFor(async () => {
    const res = await get(AbortSignal.timeout(30_000));
    if (res.status !== 200) {
      await res.body?.cancel();
      return false;
    }
    await res.arrayBuffer();
    return true;
  }, 15_000, 'the abandoned backup to let go');
});

test('a backup whose connection is cut half way writes no FILE, and the gateway lets the stream go', async () => {
  // A real TCP proxy in front of the management API that drops both sides after 200 kB.
  const target = new URL(managementUrl(gw));
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    let relayed = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      relayed += chunk.length;
      if (relayed > 200_000) {
        client.destroy();
        upstream.destroy();
      } else client.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  try {
    const dir = newDir('backup-cut');
    const file = path.join(dir, 'cut.ferrybak');
    const r = await ferry(['backup', '--out', file, '--url', `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, '--token-file', tokenFile]);
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stderr, 'was not written');
    assert.equal(fs.readdirSync(dir), [], 'no FILE and no temporary file');
  } finally {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
  }
  // The gateway noticed: the next backup is not refused as busy.
  await waitFor(async () => (await backup(path.join(newDir('backup-after-cut'), 'ok.ferrybak'))).code === 0, 30_000, 'a backup after the cut one');
});

test('restore onto a running gateway\'s data directory is refused, and the gateway goes on', async () => {
  const r = await ferry(['restore', backupFile, '--data', gw.dataDir, '--force']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'held by a running gateway: stop it first');
  assert.equal(fs.readdirSync(gw.dataDir).filter((n) => n.startsWith('.restore') || n.startsWith('store.replaced')), []);
  await payBill(gw, 'P-STILL');
});

test('a store of a newer format in a backup is refused before anything is written', async () => {
  const dir = newDir('newer');
  const lines = linesOf(backupFile);
  const header = JSON.parse(lines[0]!) as { storeFormat: number };
  lines[0] = JSON.stringify({ ...header, storeFormat: header.storeFormat + 1 });
  rewrite(path.join(dir, 'newer.ferrybak'), lines);
  await refused(path.join(dir, 'newer.ferrybak'), new RegExp(`is in store format ${header.storeFormat + 1}, and this Ferry .* install a Ferry that knows format`));
});

test.run();
