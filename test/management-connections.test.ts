// How many connections the management API takes, and for how long: idle sockets, one
// address holding too many, sockets that never send a request.
import { HospitalDay } from '../runtime/common/hospital-day.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import net from 'node:net';
import { startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { api, managementUrl, tokens } from './helpers/management.js';
import { createLogger } from '../runtime/common/logger.js';
import { startManagement, type ManagementLimits, type RunningManagement } from '../runtime/inner/management/server.js';

let gw: TestGateway;
const sockets: net.Socket[] = [];
test.before(async () => {
  gw = await startTestGateway();
});
test.after.each(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});
test.after(async () => {
  await gw.close();
});

// A TCP connection to `url` that sends nothing, from `localAddress` when given.
function idleSocket(url: string, localAddress?: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port), ...(localAddress ? { localAddress } : {}) });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

test('twenty idle sockets on the management API do not stop an authorised query', async () => {
  for (let i = 0; i < 20; i++) await idleSocket(managementUrl(gw));
  const { status, json } = await api(gw, 'GET', '/v1/query/payments', tokens(gw).read);
  assert.is(status, 200, JSON.stringify(json));
  assert.ok(Array.isArray(json.items));
});

// Resolves when the server has closed `socket`, with what it sent first; false after `ms`.
function closedBy(socket: net.Socket, ms: number): Promise<{ closed: boolean; received: string }> {
  let received = '';
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve({ closed: true, received });
    const timer = setTimeout(() => resolve({ closed: false, received }), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
  });
}

// One GET on a fresh connection from `localAddress`: its status, or the error's code.
function statusFrom(url: string, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/v1/query/payments`, { localAddress, agent: false, timeout: 10_000, headers: { authorization: `Bearer ${tokens(gw).read}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

// A second management API on the running gateway's store, with narrower limits, a log
// the test reads and a clock it moves.
async function narrowManagement(limits: Partial<ManagementLimits>, clock = { now: 0 }): Promise<{ api: RunningManagement; lines: Array<Record<string, any>> }> {
  const lines: Array<Record<string, any>> = [];
  const log = createLogger('management-test', 'info', { write: (line: string) => { lines.push(JSON.parse(line)); } });
  const running = await startManagement({
    config: { ...gw.rules.gateway.management!, port: 0 }, store: gw.inner.store, day: new HospitalDay(gw.rules.gateway.timeZone),
    reconciler: gw.inner.query.reconciler, retention: gw.inner.query.retention, log, limits, now: () => clock.now,
  });
  return { api: running, lines };
}

const refusalLines = (lines: Array<Record<string, any>>) => lines.filter((l) => /connections refused/.test(l.msg));

test('an address over its connection cap is refused, other addresses are answered, and the refusals are logged once per interval', async () => {
  const clock = { now: 0 };
  const { api: m, lines } = await narrowManagement({ connectionsPerAddressMax: 3, refusalLogIntervalMs: 60_000 }, clock);
  try {
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await idleSocket(m.url, '127.0.0.2'));
    for (let i = 0; i < 2; i++) {
      const { closed } = await closedBy(await idleSocket(m.url, '127.0.0.2'), 5000);
      assert.ok(closed, `connection ${4 + i} from 127.0.0.2 is cut`);
    }
    assert.is.not(await statusFrom(m.url, '127.0.0.2'), 200, 'a request from the full address is refused');
    assert.is(await statusFrom(m.url, '127.0.0.1'), 200, 'another address is still answered');

    // The first refusal is logged at once; the next two wait for the interval to pass.
    assert.is(refusalLines(lines).length, 1);
    assert.equal(refusalLines(lines)[0]!.refused, [{ address: '127.0.0.2', limit: 'connectionsPerAddressMax', max: 3, count: 1 }]);
    clock.now += 60_000;
    await closedBy(await idleSocket(m.url, '127.0.0.2'), 5000);
    assert.is(refusalLines(lines).length, 2);
    assert.is(refusalLines(lines)[1]!.total, 3);

    // Once one of its sockets is gone, the address is served again.
    held[0]!.destroy();
    await waitFor(async () => (await statusFrom(m.url, '127.0.0.2')) === 200, 5000, 'a request from 127.0.0.2 answered');
  } finally {
    await m.close();
  }
});

test('a socket that never sends a request is closed with 408 by the headers timeout', async () => {
  const { api: m } = await narrowManagement({ headersTimeoutMs: 200, requestTimeoutMs: 1000, timeoutCheckIntervalMs: 50 });
  try {
    const { closed, received } = await closedBy(await idleSocket(m.url), 5000);
    assert.ok(closed, 'the idle socket is closed');
    assert.match(received, /^HTTP\/1\.1 408 /);
  } finally {
    await m.close();
  }
});

test('a kept-alive socket with no next request is closed by the keep-alive timeout', async () => {
  const { api: m } = await narrowManagement({ keepAliveTimeoutMs: 200 });
  try {
    const socket = await idleSocket(m.url);
    const outcome = closedBy(socket, 5000);
    socket.write(`GET /v1/audit/verify HTTP/1.1\r\nHost: management\r\nAuthorization: Bearer ${tokens(gw).read}\r\n\r\n`);
    const { closed, received } = await outcome;
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.ok(closed, 'the socket is closed after the answer');
  } finally {
    await m.close();
  }
});

test.run();
