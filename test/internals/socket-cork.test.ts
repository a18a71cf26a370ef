// A device connection is corked for the rest of each event-loop turn (broker/cork.ts):
// what the broker writes to one device in a turn leaves in one system call, complete and
// in order, and nothing stays behind once the turn is over or the socket ends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import mqtt from 'mqtt-packet';
import { corkPerTurn } from '../../runtime/inner/broker/cork.js';

interface Pair {
  server: net.Socket; // the broker's end, corked per turn
  packets: mqtt.Packet[]; // what the device's end has parsed, in order
  writes: number; // writes the broker's end handed to the kernel (_write or _writev calls)
  close(): Promise<void>;
}

async function pair(): Promise<Pair> {
  const listener = net.createServer({ noDelay: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const device = net.createConnection({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1' });
  const server = await accepted;
  server.setNoDelay(true);
  const counted = server as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = counted[method].bind(server);
    counted[method] = (...args) => {
      p.writes += 1;
      original(...args);
    };
  }
  corkPerTurn(server);
  const parser = mqtt.parser();
  const p: Pair = {
    server, packets: [], writes: 0,
    async close() {
      server.destroy();
      device.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
  parser.on('packet', (packet) => p.packets.push(packet));
  device.on('data', (chunk) => parser.parse(chunk));
  return p;
}

const publish = (n: number): mqtt.IPublishPacket => ({
  cmd: 'publish', topic: 'dev/kiosk-01/down/notice', payload: Buffer.from(`{"n":${n}}`), qos: 1, messageId: n + 1, retain: false, dup: false,
});

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

test('packets written to one device in one turn, each from its own immediate as aedes writes them, arrive complete and in order', async () => {
  const p = await pair();
  try {
    mqtt.writeToStream({ cmd: 'puback', messageId: 7 }, p.server);
    for (let n = 0; n < 50; n++) setImmediate(() => mqtt.writeToStream(publish(n), p.server));
    await until('every packet arrives', () => p.packets.length === 51);
    assert.equal([p.packets[0]?.cmd, (p.packets[0] as mqtt.IPubackPacket).messageId], ['puback', 7]);
    assert.equal(p.packets.slice(1).map((x) => JSON.parse(String((x as mqtt.IPublishPacket).payload)).n), Array.from({ length: 50 }, (_, n) => n));
    // Without the cork each packet is a write of its own; with it, the turn's packets share a few.
    assert.ok(p.writes <= 2, `${p.writes} writes for 51 packets`);
  } finally {
    await p.close();
  }
});

test('a packet written in a later turn is not held back by the cork', async () => {
  const p = await pair();
  try {
    mqtt.writeToStream(publish(1), p.server);
    await until('the first packet arrives', () => p.packets.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    mqtt.writeToStream(publish(2), p.server);
    await until('the second packet arrives on its own', () => p.packets.length === 2);
  } finally {
    await p.close();
  }
});

test('ending the socket in the same turn flushes what was written before it', async () => {
  const p = await pair();
  try {
    for (let n = 0; n < 5; n++) mqtt.writeToStream(publish(n), p.server);
    p.server.end();
    await until('the five packets arrive before the end', () => p.packets.length === 5);
  } finally {
    await p.close();
  }
});

test('a socket destroyed while corked does not throw when the turn ends', async () => {
  const p = await pair();
  try {
    mqtt.writeToStream(publish(1), p.server);
    p.server.destroy();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 10));
    assert.ok(p.server.destroyed);
  } finally {
    await p.close();
  }
});

test.run();
