// The notification endpoint as the payment network sees it, with the real inner side
// behind it: slow and crowded clients are cut off, reused notification ids are told
// apart from duplicates, and every refusal ends up in the inner side's audit chain.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../runtime/common/logger.js';
import { signRequest } from '../runtime/common/signature.js';
import { command as auditVerify } from '../runtime/cli/commands/audit-verify.js';
import type { AuditEntry } from '../runtime/inner/store/index.js';
import type { ChannelRecord, NotifyRefusedRecord } from '../runtime/channel/records.js';
import { listenChannel, type ChannelConnection } from '../runtime/channel/connection.js';
import { NOTIFY_LIMITS } from '../runtime/outer/notify/limits.js';
import { RefusalReporter } from '../runtime/outer/notify/refusals.js';
import { startOuter } from '../runtime/outer/outer.js';
import { EXAMPLE_RULES, quietLog, sampleItems, sampleTotal, startTestGateway, tempDir, waitFor, type TestGateway } from './helpers/gateway.js';
import type { Reply } from '../devices/protocol.js';

const WAIT_MS = 10_000;
// The payment server's notifications come from 127.0.0.1; a hostile host on the payment
// network is played from another loopback address.
const HOSTILE = '127.0.0.2';

let gw: TestGateway | undefined;
test.after.each(async () => {
  await gw?.close();
  gw = undefined;
});

function secret(g: TestGateway): string {
  return g.rules.gateway.payment.secret;
}

function notifyUrl(g: TestGateway): URL {
  return new URL(g.notifyUrl());
}

interface Answer { status: number; body: Record<string, unknown> }

function post(url: URL, body: string, headers: Record<string, string>, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: false, ...(localAddress ? { localAddress } : {}),
      headers: { 'content-type': 'application/json', ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function postSigned(g: TestGateway, notification: object, localAddress?: string): Promise<Answer> {
  const url = notifyUrl(g);
  const body = JSON.stringify(notification);
  return post(url, body, signRequest(secret(g), 'POST', url.pathname, body), localAddress);
}

async function auditEntries(g: TestGateway, kind: string): Promise<AuditEntry['event'][]> {
  const rows = await g.inner.store.list<AuditEntry>('audit!');
  return rows.map(([, e]) => e.event).filter((e) => e.kind === kind);
}

// A scan-to-pay payment the payment server confirms with a notification, delivered 200.
async function paidByNotification(g: TestGateway, patientId: string): Promise<{ notifyId: string; orderId: string }> {
  const desk = await g.device('billing-01');
  const created = await desk.request('bill.create', { patientId, reference: `INV-${patientId}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  const { billId } = created.body as { billId: string };
  const kiosk = await g.device('kiosk-01');
  const final = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { status: string }).status === 'succeeded', WAIT_MS);
  await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'qr' });
  const done = await final;
  const { orderId } = done.body as { orderId: string };
  await waitFor(() => g.sim.notifications().some((d) => d.orderId === orderId && d.delivered), WAIT_MS, 'the notification delivered');
  return { notifyId: g.sim.notifications().find((d) => d.orderId === orderId)!.notifyId, orderId };
}

// Lines a pino logger wrote, parsed.
function capturedLog(level: string) {
  const lines: Array<{ level: string; msg: string; [k: string]: unknown }> = [];
  const log = createLogger('outer', level, { write: (s: string) => { lines.push(JSON.parse(s)); } });
  return { log, lines };
}

// A raw socket from `localAddress` that has sent `sent`; resolves its fate when it closes.
function rawSocket(port: number, localAddress: string, sent: string) {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  let received = '';
  socket.on('data', (c: Buffer) => { received += c.toString(); });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.write(sent); // queued until connected, ahead of anything written later
  return { socket, closed, get isClosed() { return socket.destroyed; } };
}

const HEAD = (length: number) => `POST /v1/notifications HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

test('the production limits cut any request within 15 s and keep one address below 300 sockets', () => {
  assert.ok(NOTIFY_LIMITS.headersTimeoutMs <= NOTIFY_LIMITS.requestTimeoutMs, 'Node checks headers within the request deadline');
  assert.ok(NOTIFY_LIMITS.requestTimeoutMs <= 10_000);
  assert.ok(NOTIFY_LIMITS.requestTimeoutMs + NOTIFY_LIMITS.connectionsCheckingIntervalMs < 15_000, 'deadline plus the checking interval');
  assert.ok(NOTIFY_LIMITS.idleSocketMs + NOTIFY_LIMITS.connectionsCheckingIntervalMs < 15_000);
  assert.ok(NOTIFY_LIMITS.connectionsPerAddressMax < 300);
  assert.ok(NOTIFY_LIMITS.connectionsPerAddressMax < NOTIFY_LIMITS.connectionsMax, 'one address never takes every socket');
});

test('a request whose body trickles in is cut at the request deadline with 408, and the cut is audited', async () => {
  const limits = { headersTimeoutMs: 500, requestTimeoutMs: 1_000, connectionsCheckingIntervalMs: 100 };
  const g = gw = await startTestGateway({ notifyLimits: limits });
  const started = Date.now();
  const slow = rawSocket(Number(notifyUrl(g).port), HOSTILE, HEAD(200));
  // One byte every 100 ms would take 20 s; give up trickling at 15 s.
  while (!slow.isClosed && Date.now() - started < 15_000) {
    slow.socket.write('{');
    await new Promise((r) => setTimeout(r, 100));
  }
  const cutAfterMs = Date.now() - started;
  assert.ok(slow.isClosed, 'the trickling request was cut');
  assert.ok(cutAfterMs < limits.requestTimeoutMs + 1_500, `cut after ${cutAfterMs} ms`);
  assert.match(await slow.closed, /^HTTP\/1\.1 408/);
  await waitFor(async () => (await auditEntries(g, 'notify.refused')).some((e) => e.reason === 'TIMEOUT'), WAIT_MS, 'the cut audited');
  const [entry] = (await auditEntries(g, 'notify.refused')).filter((e) => e.reason === 'TIMEOUT');
  assert.is(entry!.remote, HOSTILE);
  assert.is(entry!.count, 1);
});

test('the 301st socket from one address is refused while the payment server still delivers its notification', async () => {
  const g = gw = await startTestGateway({ qrDelayMs: 100 });
  const port = Number(notifyUrl(g).port);
  // Each has started a request and waits to send the rest: what a trickling host holds.
  const crowd = Array.from({ length: 301 }, () => rawSocket(port, HOSTILE, 'POST /v1/notifications HTTP/1.1\r\n'));
  try {
    await waitFor(() => crowd.filter((s) => s.isClosed).length >= 301 - NOTIFY_LIMITS.connectionsPerAddressMax, WAIT_MS, 'the sockets past the cap closed');
    assert.ok(crowd[300]!.isClosed, 'the 301st socket is refused');
    assert.is(crowd.filter((s) => !s.isClosed).length, NOTIFY_LIMITS.connectionsPerAddressMax);
    const paid = await paidByNotification(g, 'P-3101');
    assert.ok(g.sim.notifications().find((d) => d.notifyId === paid.notifyId)!.statuses.includes(200));
    // The refusals are counted into a few audit entries, not one apiece.
    const refused = 301 - NOTIFY_LIMITS.connectionsPerAddressMax;
    const counted = async () => (await auditEntries(g, 'notify.refused'))
      .filter((e) => e.reason === 'CONNECTIONS' && e.remote === HOSTILE).reduce((n, e) => n + (e.count as number), 0);
    await waitFor(async () => (await counted()) === refused, WAIT_MS, `${refused} refused connections audited`);
    assert.ok((await auditEntries(g, 'notify.refused')).length < 10, 'counted, not one entry per socket');
  } finally {
    for (const s of crowd) s.socket.destroy();
  }
});

test('a notification id seen before with other content is 409 and audited; the same content is 200 duplicate, also after an outer restart', async () => {
  const g = gw = await startTestGateway({ qrDelayMs: 100 });
  const { notifyId, orderId } = await paidByNotification(g, 'P-3201');
  const same = { notifyId, orderId, status: 'succeeded', amount: sampleTotal, currency: 'CNY' };

  assert.equal(await postSigned(g, same), { status: 200, body: { ok: true, duplicate: true } });
  const otherAmount = await postSigned(g, { ...same, amount: sampleTotal + 100 });
  assert.equal(otherAmount, { status: 409, body: { error: 'CONFLICT' } });
  await waitFor(async () => (await auditEntries(g, 'notify.refused')).some((e) => e.reason === 'CONFLICT'), WAIT_MS, 'the conflict audited');
  const [byOuter] = (await auditEntries(g, 'notify.refused')).filter((e) => e.reason === 'CONFLICT');
  assert.equal({ ...byOuter, at: undefined }, { kind: 'notify.refused', reason: 'CONFLICT', remote: '127.0.0.1', count: 1, orderId, at: undefined });

  // A restarted outer side remembers nothing: the inner side's store tells them apart.
  await g.stopOuter();
  await g.startOuter();
  assert.equal(await postSigned(g, { ...same, status: 'failed' }), { status: 409, body: { error: 'CONFLICT' } });
  await g.stopOuter();
  await g.startOuter();
  assert.equal(await postSigned(g, same), { status: 200, body: { ok: true, duplicate: true } });
  const [byInner] = await auditEntries(g, 'payment.notification.conflict');
  assert.equal(byInner, {
    kind: 'payment.notification.conflict', notifyId, differ: ['status'],
    accepted: { orderId, status: 'succeeded', amount: sampleTotal },
    claimed: { orderId, status: 'failed', amount: sampleTotal },
  });
  const order = await g.inner.payments.order(orderId);
  assert.is(order.status, 'succeeded', 'the conflicting notification changed nothing');
});

test('a dedupe record written before content was kept still tells a duplicate from another amount', async () => {
  const g = gw = await startTestGateway({ qrDelayMs: 100 });
  const { notifyId, orderId } = await paidByNotification(g, 'P-3301');
  // What earlier versions stored under the id: the order and the status only.
  await g.inner.store.transact((tx) => tx.put(`notify!${notifyId}`, { orderId, status: 'succeeded' }));
  await g.stopOuter();
  await g.startOuter();
  const same = { notifyId, orderId, status: 'succeeded', amount: sampleTotal, currency: 'CNY' };
  assert.equal(await postSigned(g, { ...same, amount: sampleTotal - 1 }), { status: 409, body: { error: 'CONFLICT' } });
  const [conflict] = await auditEntries(g, 'payment.notification.conflict');
  assert.equal(conflict!.differ, ['amount']);
  await g.stopOuter();
  await g.startOuter();
  assert.equal(await postSigned(g, same), { status: 200, body: { ok: true, duplicate: true } });
});

test('past the total cap a socket is dropped, and the drop is audited', async () => {
  const g = gw = await startTestGateway({ notifyLimits: { connectionsMax: 3 } });
  const port = Number(notifyUrl(g).port);
  const held = Array.from({ length: 3 }, () => rawSocket(port, HOSTILE, 'POST /v1/notifications HTTP/1.1\r\n'));
  try {
    await new Promise((r) => setTimeout(r, 100));
    const extra = rawSocket(port, '127.0.0.3', 'POST /v1/notifications HTTP/1.1\r\n');
    await extra.closed;
    assert.ok(held.every((s) => !s.isClosed), 'the first three are kept');
    await waitFor(async () => (await auditEntries(g, 'notify.refused')).some((e) => e.reason === 'CONNECTIONS' && e.remote === '127.0.0.3'), WAIT_MS, 'the drop audited');
  } finally {
    for (const s of held) s.socket.destroy();
  }
});

test('a client that hangs up mid-request is logged at debug, never as an error', async () => {
  const { log, lines } = capturedLog('debug');
  const g = gw = await startTestGateway({ outerLog: log });
  const port = Number(notifyUrl(g).port);
  const hangUps = 20;
  for (let i = 0; i < hangUps; i++) {
    // Half of them inside the headers, half inside the body.
    const s = rawSocket(port, HOSTILE, i % 2 === 0 ? HEAD(100) + '{"notifyId":' : 'POST /v1/notifications HTTP/1.1\r\nHost: g');
    await new Promise((r) => setTimeout(r, 30));
    s.socket.destroy();
    await s.closed;
  }
  const about = () => lines.filter((l) => /hung up|handling failed/.test(l.msg));
  await waitFor(() => about().length >= hangUps, WAIT_MS, 'every hang-up logged');
  assert.equal(lines.filter((l) => ['warn', 'error', 'fatal'].includes(l.level)).map((l) => l.msg), [], 'no warning or error');
  assert.ok(about().every((l) => l.level === 'debug' && l.remote === HOSTILE && l.stack === undefined && l.err === undefined));
});

test("an outer-side refusal is an entry of the chain that `ferry audit verify` checks, with its reason and the client's address", async () => {
  const g = gw = await startTestGateway();
  const url = notifyUrl(g);
  const body = JSON.stringify({ notifyId: 'ntf-forged', orderId: 'P20261201-abcd-000001', status: 'succeeded', amount: 1, currency: 'CNY', note: 'P-1001 Zhang San' });
  const forged = await post(url, body, signRequest('not-the-secret', 'POST', url.pathname, body), HOSTILE);
  assert.equal(forged, { status: 401, body: { error: 'SIGNATURE' } });
  await waitFor(async () => (await auditEntries(g, 'notify.refused')).length === 1, WAIT_MS, 'the refusal audited');

  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  let status: number;
  try {
    status = await auditVerify.run(['--data', g.dataDir, '--rules', EXAMPLE_RULES, '--url', g.inner.query.managementUrl()!]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  assert.is(status, 0);
  const verified = Number(/audit chain intact: (\d+) entries/.exec(out.join(''))?.[1]);
  const rows = await g.inner.store.list<AuditEntry>('audit!');
  const entry = rows.map(([, e]) => e).find((e) => e.event.kind === 'notify.refused')!;
  assert.ok(entry.seq <= verified, 'the entry is within the verified chain');
  assert.equal(Object.keys(entry.event).sort(), ['at', 'count', 'kind', 'orderId', 'reason', 'remote'], 'nothing else of the body');
  assert.is(entry.event.reason, 'BAD_SIGNATURE');
  assert.is(entry.event.remote, HOSTILE);
  assert.is(entry.event.orderId, 'P20261201-abcd-000001');
});

// ---- counting refusals (a manual clock: nothing here sleeps)

function reporter(o: { talliesMax?: number } = {}) {
  let nowMs = 1_764_000_000_000;
  let up = true;
  const sent: NotifyRefusedRecord[] = [];
  const { log, lines } = capturedLog('info');
  const r = new RefusalReporter({ send: (rec) => up && sent.push(rec) > 0, log, now: () => nowMs, ...o });
  return {
    r, sent, lines,
    advance(ms: number) { nowMs += ms; },
    setUp(value: boolean) { up = value; },
    total: () => sent.reduce((n, rec) => n + rec.count, 0),
  };
}

test('a flood from one address is one record at once, then one a second counting what it stands for', () => {
  const w = reporter();
  for (let i = 0; i < 1_000; i++) {
    w.r.refused({ reason: 'BAD_SIGNATURE', remote: HOSTILE, orderId: 'P-1' });
    w.advance(1);
    if (i % 100 === 99) w.r.flush();
  }
  // 1,000 refusals over exactly one window: the first at once, the rest at its end.
  assert.is(w.sent.length, 2);
  assert.equal(w.sent.map((rec) => rec.count), [1, 999]);
  assert.equal(w.sent.map((rec) => rec.orderId), ['P-1', 'P-1']);
  assert.ok(w.sent[1]!.at > w.sent[0]!.at, 'the count starts at its first refusal');
  w.r.flush();
  assert.is(w.sent.length, 2, 'nothing new, nothing sent');
  const warned = w.lines.filter((l) => l.msg === 'notification refused');
  assert.equal(warned.map((l) => [l.remote, l.reason, l.count]), [[HOSTILE, 'BAD_SIGNATURE', 1], [HOSTILE, 'BAD_SIGNATURE', 999]]);
});

test('refusals are counted per reason and address; an order id stays only when all of them named it', () => {
  const w = reporter();
  w.r.refused({ reason: 'STALE', remote: '198.51.100.1', orderId: 'P-1' });
  w.r.refused({ reason: 'STALE', remote: '198.51.100.2' });
  w.r.refused({ reason: 'REPLAYED', remote: '198.51.100.1' });
  w.r.refused({ reason: 'STALE', remote: '198.51.100.1', orderId: 'P-2' });
  w.r.refused({ reason: 'STALE', remote: '198.51.100.1', orderId: 'P-3' });
  w.advance(1_000);
  w.r.flush();
  assert.equal(w.sent.map(({ reason, remote, count, orderId }) => ({ reason, remote, count, orderId })), [
    { reason: 'STALE', remote: '198.51.100.1', count: 1, orderId: 'P-1' },
    { reason: 'STALE', remote: '198.51.100.2', count: 1, orderId: undefined },
    { reason: 'REPLAYED', remote: '198.51.100.1', count: 1, orderId: undefined },
    { reason: 'STALE', remote: '198.51.100.1', count: 2, orderId: undefined },
  ]);
});

test('while the channel is down the counts wait in bounded room, and every refusal is counted when it is back', () => {
  const w = reporter({ talliesMax: 16 });
  w.setUp(false);
  for (let window = 0; window < 5; window++) {
    for (let a = 0; a < 1_000; a++) w.r.refused({ reason: 'INVALID', remote: `10.0.${a >> 8}.${a & 255}` });
    w.advance(1_000);
    w.r.flush();
  }
  assert.is(w.sent.length, 0);
  assert.is(w.r.waiting, 5_000, 'every refusal waits, counted');
  w.setUp(true);
  w.r.drain();
  assert.is(w.total(), 5_000);
  assert.ok(w.sent.length <= 17, `${w.sent.length} records: the bound and one for the addresses past it`);
  assert.ok(w.sent.some((rec) => rec.remote === '*'));
  assert.is(w.r.waiting, 0);
  const warned = w.lines.filter((l) => l.msg === 'notification refused');
  assert.ok(warned.length <= 5 * (2 * 16 + 1), `${warned.length} log lines for 5,000 refusals from 1,000 addresses`);
  assert.is(warned.reduce((n, l) => n + (l.count as number), 0), 5_000);
});

test('a refusal the inner side audited itself is logged here but not sent again', () => {
  const w = reporter();
  w.r.refused({ reason: 'CONFLICT', remote: HOSTILE, orderId: 'P-1', audited: true });
  w.r.refused({ reason: 'REFUSED', remote: HOSTILE, orderId: 'P-1', audited: true });
  w.advance(1_000);
  w.r.flush();
  assert.is(w.sent.length, 0);
  assert.equal(w.lines.filter((l) => l.msg === 'notification refused').map((l) => l.reason), ['CONFLICT', 'REFUSED']);
});

test('refusals made while the inner side is away reach it when it is back', async () => {
  const dir = tempDir('notify-away');
  const socketPath = `${dir}/channel.sock`;
  const received: ChannelRecord[] = [];
  const connections: ChannelConnection[] = [];
  const listen = () => listenChannel(socketPath, quietLog, (c) => {
    connections.push(c);
    c.on('record', (rec) => received.push(rec));
  });
  let server = await listen();
  const outer = await startOuter({
    socketPath, payment: { url: 'http://127.0.0.1:9', secret: 'away-secret', timeoutMs: 1_000 },
    notify: { host: '127.0.0.1', port: 0, toleranceSec: 300 }, log: quietLog,
  });
  try {
    await waitFor(() => outer.status().connected, WAIT_MS, 'the outer side connected');
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of connections) c.close();
    });
    await waitFor(() => !outer.status().connected, WAIT_MS, 'the outer side saw the inner side go');
    const url = new URL(outer.notifyUrl);
    assert.is((await post(url, '{"orderId":"P-7","amount":1}', {}, HOSTILE)).status, 401);
    assert.is(received.filter((rec) => rec.k === 'notify.refused').length, 0);
    server = await listen();
    await waitFor(() => received.some((rec) => rec.k === 'notify.refused'), WAIT_MS, 'the refusal crossed');
    const rec = received.find((r): r is NotifyRefusedRecord => r.k === 'notify.refused')!;
    assert.equal({ ...rec, at: 0 }, { k: 'notify.refused', reason: 'SIGNATURE_MISSING', remote: HOSTILE, at: 0, count: 1, orderId: 'P-7' });
  } finally {
    await outer.close();
    for (const c of connections) c.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
