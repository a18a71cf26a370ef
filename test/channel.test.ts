// The ferry channel (runtime/channel): length-prefixed frames, the few declared record
// kinds each side may receive, and two real connections over a Unix socket.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { encodeFrame, FrameDecoder } from '../runtime/channel/framing.js';
import { checkRecord, MAX_RECORD_BYTES, parseRecord, RECEIVES, RecordError, type ChannelRecord, type RecordKind } from '../runtime/channel/records.js';
import { connectChannel, listenChannel, type ChannelConnection } from '../runtime/channel/connection.js';
import { ChannelClient } from '../runtime/outer/channel-client.js';
import { SAMPLE_METRICS } from './helpers/channel-samples.js';

const log = pino({ level: process.env.FERRY_TEST_LOG ?? 'silent' });

const ORDER: ChannelRecord = { k: 'order', orderId: 'P20261126-abcd-000001', amount: 4000, currency: 'CNY', method: 'code', description: 'Bill B20261126-abcd-000001', authCode: '134567890123' };
const SAMPLES: Record<RecordKind, ChannelRecord> = {
  hello: { k: 'hello', side: 'outer', version: 1 },
  heartbeat: { k: 'heartbeat', ts: 1_764_000_000_000 },
  order: ORDER,
  'order.ack': { k: 'order.ack', orderId: 'P20261126-abcd-000001' },
  outcome: { k: 'outcome', orderId: 'P20261126-abcd-000001', status: 'pending', qrCode: 'ferrysim://pay/xyz' },
  notification: { k: 'notification', notifyId: 'N-1', orderId: 'P20261126-abcd-000001', status: 'succeeded', amount: 4000, currency: 'CNY' },
  'notification.ack': { k: 'notification.ack', notifyId: 'N-1', accepted: true },
  'notify.refused': { k: 'notify.refused', reason: 'BAD_SIGNATURE', remote: '198.51.100.7', at: 1_764_000_000_000, count: 3, orderId: 'P20261126-abcd-000001' },
  refund: { k: 'refund', refundId: 'F20261126-abcd-000001', orderId: 'P20261126-abcd-000001', amount: 4000, currency: 'CNY', reason: 'registration cancelled' },
  'refund.outcome': { k: 'refund.outcome', refundId: 'F20261126-abcd-000001', orderId: 'P20261126-abcd-000001', status: 'succeeded', amount: 4000 },
  'statement.request': { k: 'statement.request', requestId: 'st-0123456789abcdef', date: '2026-11-26' },
  'statement.part': { k: 'statement.part', requestId: 'st-0123456789abcdef', date: '2026-11-26', part: 0, last: true, lines: [{ kind: 'payment', orderId: 'P20261126-abcd-000001', amount: 4000, currency: 'CNY', status: 'succeeded', at: '2026-11-26T09:30:00.000Z' }] },
  'statement.failed': { k: 'statement.failed', requestId: 'st-0123456789abcdef', date: '2026-11-26', reason: 'payment server unreachable (network)' },
  metrics: SAMPLE_METRICS,
};

function refused(fn: () => unknown, matches?: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, RecordError);
    if (matches) assert.match((err as Error).message, matches);
    return;
  }
  assert.unreachable('expected a RecordError');
}

// ---- framing

test('a frame split across many chunks is decoded once it is complete', () => {
  const frame = encodeFrame(ORDER);
  const decoder = new FrameDecoder();
  const out: Buffer[] = [];
  for (let i = 0; i < frame.length; i++) out.push(...decoder.push(frame.subarray(i, i + 1)));
  assert.is(out.length, 1);
  assert.equal(JSON.parse(out[0]!.toString()), ORDER);
});

test('several frames joined in one chunk are all decoded, in order, keeping a partial tail', () => {
  const a = encodeFrame(SAMPLES['order.ack']);
  const b = encodeFrame(SAMPLES.outcome);
  const c = encodeFrame(SAMPLES.notification);
  const decoder = new FrameDecoder();
  const joined = Buffer.concat([a, b, c.subarray(0, 7)]);
  const first = decoder.push(joined).map((f) => JSON.parse(f.toString()).k);
  assert.equal(first, ['order.ack', 'outcome']);
  const rest = decoder.push(c.subarray(7)).map((f) => JSON.parse(f.toString()).k);
  assert.equal(rest, ['notification']);
});

test('a frame announcing more than the maximum is refused from its header alone', () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_RECORD_BYTES + 1, 0);
  refused(() => new FrameDecoder().push(header), /exceeds/);
  header.writeUInt32BE(0xffffffff, 0);
  refused(() => new FrameDecoder().push(header), /exceeds/);
});

test('a frame of exactly the maximum size is accepted', () => {
  const body = Buffer.alloc(MAX_RECORD_BYTES, 0x20);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_RECORD_BYTES, 0);
  assert.is(new FrameDecoder().push(Buffer.concat([header, body]))[0]!.length, MAX_RECORD_BYTES);
});

test('a zero-length frame is refused', () => {
  refused(() => new FrameDecoder().push(Buffer.alloc(4)), /empty/);
});

test('a record too large to frame is refused on the sending side', () => {
  refused(() => encodeFrame({ k: 'order', pad: 'x'.repeat(MAX_RECORD_BYTES) }), /exceeds/);
});

// ---- records

test('each declared record kind is accepted by the side that receives it', () => {
  for (const [kind, record] of Object.entries(SAMPLES) as Array<[RecordKind, ChannelRecord]>) {
    const receivers = (['inner', 'outer'] as const).filter((side) => RECEIVES[side].has(kind));
    assert.ok(receivers.length > 0, `${kind} has a receiver`);
    for (const side of receivers) {
      const copy = kind === 'hello' ? { ...record, side: side === 'inner' ? 'outer' : 'inner' } : record;
      assert.equal(parseRecord(encodeFrame(copy).subarray(4), side), copy, `${kind} to ${side}`);
    }
  }
});

test('a record arriving in the wrong direction is refused', () => {
  refused(() => checkRecord(SAMPLES.order, 'inner'), /does not receive order/);
  refused(() => checkRecord(SAMPLES.notification, 'outer'), /does not receive notification/);
  refused(() => checkRecord(SAMPLES.outcome, 'outer'));
  refused(() => checkRecord(SAMPLES['order.ack'], 'outer'));
  refused(() => checkRecord(SAMPLES['notification.ack'], 'inner'));
});

test('a record of an unknown kind, or without a kind, is refused', () => {
  refused(() => checkRecord({ k: 'shell', cmd: 'rm -rf /' }, 'outer'), /unknown record kind/);
  refused(() => checkRecord({ k: 'constructor' }, 'outer'), /unknown record kind/);
  refused(() => checkRecord({ orderId: 'P-1' }, 'outer'), /unknown record kind/);
  refused(() => checkRecord({ k: 1 }, 'outer'), /unknown record kind/);
});

test('something that is not a JSON object is refused', () => {
  refused(() => parseRecord(Buffer.from('not json'), 'outer'), /not JSON/);
  refused(() => checkRecord([ORDER], 'outer'), /not an object/);
  refused(() => checkRecord(null, 'outer'), /not an object/);
  refused(() => checkRecord('order', 'outer'), /not an object/);
});

test('a record with an extra field is refused', () => {
  refused(() => checkRecord({ ...SAMPLES['order.ack'], note: 'hi' }, 'inner'));
  refused(() => checkRecord({ ...SAMPLES.heartbeat, load: 1 }, 'outer'));
});

test('a record with a field of the wrong type or value is refused', () => {
  refused(() => checkRecord({ ...ORDER, amount: '4000' }, 'outer'), /amount/);
  refused(() => checkRecord({ ...ORDER, amount: 40.5 }, 'outer'), /amount/);
  refused(() => checkRecord({ ...ORDER, amount: 0 }, 'outer'), /amount/);
  refused(() => checkRecord({ ...ORDER, currency: 'USD' }, 'outer'), /currency/);
  refused(() => checkRecord({ ...ORDER, method: 'card' }, 'outer'), /method/);
  refused(() => checkRecord({ ...ORDER, orderId: '../etc/passwd' }, 'outer'), /orderId/);
  refused(() => checkRecord({ ...ORDER, authCode: '4111111111111111' }, 'outer'), /authCode/);
  refused(() => checkRecord({ ...SAMPLES['notification.ack'], accepted: 'yes' }, 'outer'), /accepted/);
});

test('a notify.refused record holds a declared reason, an address, a time, a count and an order id, and nothing of the body', () => {
  const sample = SAMPLES['notify.refused'];
  assert.ok(checkRecord({ ...sample, remote: '::ffff:127.0.0.1' }, 'inner'));
  assert.ok(checkRecord({ ...sample, remote: 'fe80::1%eth0' }, 'inner'));
  assert.ok(checkRecord({ ...sample, remote: '*' }, 'inner'), 'addresses past the bound');
  refused(() => checkRecord(sample, 'outer'), /does not receive notify.refused/);
  refused(() => checkRecord({ ...sample, body: '{"patientId":"P-1"}' }, 'inner'));
  refused(() => checkRecord({ ...sample, patientId: 'P-1001' }, 'inner'));
  refused(() => checkRecord({ ...sample, reason: 'whatever the body said' }, 'inner'), /reason/);
  refused(() => checkRecord({ ...sample, remote: 'Zhang San, bed 12' }, 'inner'), /remote/);
  refused(() => checkRecord({ ...sample, orderId: 'Zhang San' }, 'inner'), /orderId/);
  refused(() => checkRecord({ ...sample, count: 0 }, 'inner'), /count/);
  refused(() => checkRecord({ ...sample, at: '2026-11-26' }, 'inner'), /at/);
});

test('a notification.ack may say that the id was seen before, with the same or different content', () => {
  assert.ok(checkRecord({ ...SAMPLES['notification.ack'], seen: 'same' }, 'outer'));
  assert.ok(checkRecord({ k: 'notification.ack', notifyId: 'N-1', accepted: false, seen: 'different', reason: 'another amount' }, 'outer'));
  refused(() => checkRecord({ ...SAMPLES['notification.ack'], seen: 'maybe' }, 'outer'), /seen/);
});

test('a record missing a required field is refused', () => {
  const { description: _description, ...withoutDescription } = ORDER as Extract<ChannelRecord, { k: 'order' }>;
  refused(() => checkRecord(withoutDescription, 'outer'));
});

test('an order description longer than 128 characters or holding control characters is refused', () => {
  assert.ok(checkRecord({ ...ORDER, description: 'x'.repeat(128) }, 'outer'));
  refused(() => checkRecord({ ...ORDER, description: 'x'.repeat(129) }, 'outer'), /description/);
  refused(() => checkRecord({ ...ORDER, description: 'line\nbreak' }, 'outer'), /description/);
});

test('an order that tries to carry patient information is refused', () => {
  refused(() => checkRecord({ ...ORDER, patientId: 'P-1001' }, 'outer'));
  refused(() => checkRecord({ ...ORDER, symptoms: 'chest pain' }, 'outer'));
  refused(() => checkRecord({ ...SAMPLES.outcome, patientName: 'Zhang San' }, 'inner'));
  refused(() => checkRecord({ ...SAMPLES.notification, idCard: '11010519491231002X' }, 'inner'));
});

// ---- two real connections over a Unix socket

let dir = '';
const servers: net.Server[] = [];
const connections: ChannelConnection[] = [];
const sockets: net.Socket[] = [];

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-channel-'));
});

test.after(async () => {
  for (const c of connections) c.close();
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function listen(socketPath = path.join(dir, `ch-${++n}.sock`)): Promise<{ socketPath: string; accepted: Promise<ChannelConnection> }> {
  let resolve!: (c: ChannelConnection) => void;
  const accepted = new Promise<ChannelConnection>((r) => (resolve = r));
  servers.push(await listenChannel(socketPath, log, (c) => {
    connections.push(c);
    resolve(c);
  }));
  return { socketPath, accepted };
}

function once<T extends unknown[]>(emitter: { once(event: string, fn: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

test('the socket file is readable and writable by its owner only', async () => {
  const { socketPath } = await listen();
  assert.is(fs.statSync(socketPath).mode & 0o777, 0o600);
});

test('both sides say hello and become ready', async () => {
  const { socketPath, accepted } = await listen();
  const outer = await connectChannel(socketPath, log);
  connections.push(outer);
  const inner = await accepted;
  if (!inner.isReady) await once(inner, 'ready');
  assert.ok(outer.isReady);
  assert.ok(inner.isReady);
  assert.is(inner.peer, 'outer');
  assert.is(outer.peer, 'inner');
});

test('an order crosses from the inner side and its ack comes back', async () => {
  const { socketPath, accepted } = await listen();
  const outer = await connectChannel(socketPath, log);
  connections.push(outer);
  const inner = await accepted;
  if (!inner.isReady) await once(inner, 'ready');
  const atOuter = once<[ChannelRecord]>(outer, 'record');
  assert.ok(inner.send(ORDER));
  assert.equal((await atOuter)[0], ORDER);
  const atInner = once<[ChannelRecord]>(inner, 'record');
  assert.ok(outer.send(SAMPLES['order.ack']));
  assert.equal((await atInner)[0], SAMPLES['order.ack']);
});

test('records sent in the same read as the hello wait for the listener that the caller attaches after connecting', async () => {
  // A raw inner side that writes its hello and three orders at once, as a busy inner
  // side resending its journal to a slow outer process can: none may be lost.
  const socketPath = path.join(dir, `early-${++n}.sock`);
  const orders = [1, 2, 3].map((i) => ({ ...ORDER, orderId: `P20261126-abcd-00000${i}` }));
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.resume();
    socket.write(Buffer.concat([encodeFrame({ k: 'hello', side: 'inner', version: 1 }), ...orders.map((o) => encodeFrame(o))]));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, () => resolve()));
  servers.push(server);
  const outer = await connectChannel(socketPath, log);
  connections.push(outer);
  await new Promise((r) => setTimeout(r, 20)); // the listener comes later still
  const got: ChannelRecord[] = [];
  outer.on('record', (r) => got.push(r));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(got, orders);
});

test('a side refuses to send a record its peer does not receive', async () => {
  const { socketPath, accepted } = await listen();
  const outer = await connectChannel(socketPath, log);
  connections.push(outer);
  const inner = await accepted;
  if (!inner.isReady) await once(inner, 'ready');
  refused(() => outer.send(ORDER), /does not receive order/);
  refused(() => inner.send(SAMPLES.notification));
  assert.ok(outer.isReady, 'a refused send does not close the connection');
});

async function rawPeer(socketPath: string): Promise<net.Socket> {
  const socket = net.createConnection(socketPath);
  sockets.push(socket);
  await once(socket, 'connect');
  socket.resume(); // read and drop the hello: a paused socket never sees its end
  return socket;
}

test('a malformed frame from a raw socket closes the connection with an error', async () => {
  const { socketPath, accepted } = await listen();
  const socket = await rawPeer(socketPath);
  const socketClosed = once(socket, 'close');
  socket.on('error', () => {});
  const inner = await accepted;
  const innerClosed = once<[Error | undefined]>(inner, 'close');
  socket.write(encodeFrame(SAMPLES.hello));
  const garbage = Buffer.from('{"k":"hello",');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(garbage.length, 0);
  socket.write(Buffer.concat([header, garbage]));
  const [err] = await innerClosed;
  assert.instance(err, Error);
  assert.match(err!.message, /not JSON/);
  await socketClosed;
  assert.not.ok(inner.isReady);
});

test('a record before hello closes the connection', async () => {
  const { socketPath, accepted } = await listen();
  const socket = await rawPeer(socketPath);
  socket.on('error', () => {});
  const inner = await accepted;
  const innerClosed = once<[Error | undefined]>(inner, 'close');
  socket.write(encodeFrame(SAMPLES['order.ack']));
  const [err] = await innerClosed;
  assert.match(err!.message, /expected hello/);
});

test('an order sent to the inner side by its peer closes the connection', async () => {
  const { socketPath, accepted } = await listen();
  const socket = await rawPeer(socketPath);
  socket.on('error', () => {});
  const inner = await accepted;
  const innerClosed = once<[Error | undefined]>(inner, 'close');
  socket.write(Buffer.concat([encodeFrame(SAMPLES.hello), encodeFrame(ORDER)]));
  const [err] = await innerClosed;
  assert.match(err!.message, /does not receive order/);
});

test('an oversized length header from a raw socket closes the connection', async () => {
  const { socketPath, accepted } = await listen();
  const socket = await rawPeer(socketPath);
  socket.on('error', () => {});
  const inner = await accepted;
  const innerClosed = once<[Error | undefined]>(inner, 'close');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_RECORD_BYTES * 64, 0);
  socket.write(header);
  const [err] = await innerClosed;
  assert.match(err!.message, /exceeds/);
});

test('a hello claiming to be the inner side is refused by the outer side', async () => {
  const socketPath = path.join(dir, 'fake-inner.sock');
  const fake = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.write(encodeFrame({ k: 'hello', side: 'outer', version: 1 }));
  });
  servers.push(fake);
  await new Promise<void>((resolve) => fake.listen(socketPath, () => resolve()));
  try {
    const c = await connectChannel(socketPath, log);
    connections.push(c);
    assert.unreachable('the connection should have failed');
  } catch (err) {
    assert.match((err as Error).message, /hello from outer, expected inner/);
  }
});

test('the outer side keeps retrying a missing inner side at most a second apart, and connects as soon as it listens', async () => {
  const socketPath = path.join(dir, `ch-${++n}.sock`);
  const delays: number[] = [];
  // The largest jitter every time, and no real waiting: the delays are what is checked.
  // After the twelfth failed attempt the inner side starts listening.
  const client = new ChannelClient(socketPath, log, {
    random: () => 0.999_999,
    wait: async (ms) => {
      delays.push(ms);
      if (delays.length === 12) await listen(socketPath);
    },
  });
  client.start();
  try {
    const connected = once(client, 'connected');
    await connected;
    assert.ok(client.connected);
    assert.is(delays.length, 12);
    assert.equal(delays.slice(0, 6), [49, 99, 199, 399, 799, 999]);
    assert.ok(delays.every((d) => d <= 1_000), `every delay at most 1 s: ${delays.join(', ')}`);
  } finally {
    await client.close();
  }
});

test.run();
