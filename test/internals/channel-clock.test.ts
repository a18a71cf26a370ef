// The channel's heartbeats and silence limit run on the side's clock: a manual clock
// shows, without waiting 15 s, that a silent peer is dropped and a live one is kept.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { encodeFrame } from '../../runtime/channel/framing.js';
import { CHANNEL_VERSION } from '../../runtime/channel/records.js';
import { CHANNEL_SILENCE_MS_MAX, connectChannel, listenChannel, type ChannelConnection } from '../../runtime/channel/connection.js';
import { ManualClock } from '../../runtime/common/clock.js';

const log = pino({ level: process.env.FERRY_TEST_LOG ?? 'silent' });
let dir: string;
const cleanups: Array<() => Promise<void> | void> = [];

test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-channel-clock-'));
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const realPause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an inner side that says hello and then nothing is taken as gone once the silence limit has passed on the clock', async () => {
  const socketPath = path.join(dir, 'silent.sock');
  const peers: net.Socket[] = [];
  const server = net.createServer((s) => {
    peers.push(s);
    s.on('error', () => {});
    s.write(encodeFrame({ k: 'hello', side: 'inner', version: CHANNEL_VERSION }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const p of peers) p.destroy();
    server.close(() => resolve());
  }));
  const clock = new ManualClock();
  const outer = await connectChannel(socketPath, log, clock);
  cleanups.push(() => outer.close());
  let closedWith: Error | undefined;
  let closed = false;
  outer.on('close', (err) => {
    closed = true;
    closedWith = err;
  });
  await clock.advance(CHANNEL_SILENCE_MS_MAX);
  assert.ok(outer.isReady, 'still there at the limit itself');
  await clock.advance(CHANNEL_SILENCE_MS_MAX / 3);
  assert.ok(closed, 'dropped one heartbeat period past the limit');
  assert.match(closedWith?.message ?? '', /no record from the inner side/);
});

test('two sides that heartbeat stay connected through a minute of the clock', async () => {
  const socketPath = path.join(dir, 'live.sock');
  const clock = new ManualClock();
  let inner: ChannelConnection | undefined;
  const server = await listenChannel(socketPath, log, (c) => (inner = c), clock);
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const outer = await connectChannel(socketPath, log, clock);
  cleanups.push(() => outer.close());
  cleanups.push(() => inner?.close());
  for (let at = 0; at < 60_000; at += CHANNEL_SILENCE_MS_MAX / 3) {
    await clock.advance(CHANNEL_SILENCE_MS_MAX / 3);
    await realPause(20); // the heartbeats cross the real socket
  }
  assert.ok(outer.isReady, 'the outer side kept the connection');
  assert.ok(inner?.isReady, 'the inner side kept the connection');
});

test.run();
