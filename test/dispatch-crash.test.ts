// Invariant 4 of docs/design.md across a crash: kill -9 of the inner process while a department
// holds unacknowledged messages, restart it, and every message is redelivered, to the
// workstation that stayed connected and to one that was offline during the restart,
// and each is processed exactly once for the department.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { pino } from 'pino';
import { DeviceClient } from '../devices/client.js';
import type { DispatchQueuedBody } from '../devices/protocol.js';
import { demoPassword } from '../sim/demo-devices.js';
import { WorkstationSim } from '../sim/devices/workstation.js';
import { Store, verifyAudit, type AuditEntry } from '../runtime/inner/store/store.js';
import type { DispatchRecord } from '../runtime/inner/dispatch/records.js';
import { copyRules, LOAD_RATE, tempDir } from './helpers/gateway.js';
import { ProcessGateway } from './helpers/processes.js';

const N = 24;
const ACKED_BEFORE = 6;
const WAIT_MS = 20_000;

test('after kill -9 of the inner side, unacknowledged messages are redelivered and each is processed once', async () => {
  const dataDir = tempDir('dispatch-crash');
  const rulesDir = copyRules({ rate: LOAD_RATE });
  // No payment server is needed: nothing here pays.
  const gw = await ProcessGateway.create({ dataDir, rulesDir, paymentUrl: 'http://127.0.0.1:9' });
  const closers: Array<() => Promise<void>> = [];
  const connect = { url: gw.mqttUrl, connectTimeoutMs: WAIT_MS };
  try {
    await gw.startInner();
    const kiosk = await DeviceClient.connect({ ...connect, id: 'kiosk-01', password: demoPassword('kiosk-01')! });
    closers.push(() => kiosk.close());
    const stayed = await WorkstationSim.connect({ ...connect, id: 'ws-int-01', password: demoPassword('ws-int-01')! }, { dept: 'INT', autoAck: false });
    closers.push(() => stayed.close());

    const sent: string[] = [];
    for (let i = 0; i < N; i++) {
      const reply = await kiosk.request('patient.info', { symptoms: `patient ${i}`, dept: 'INT' });
      assert.is(reply.type, 'dispatch.queued');
      sent.push((reply.body as unknown as DispatchQueuedBody).dispatchId);
    }
    await stayed.until(() => stayed.received.length === N, WAIT_MS, 'received all');
    // The doctor takes a few, then the gateway dies with the rest unacknowledged.
    stayed.resume();
    await stayed.until(() => stayed.processed.length >= ACKED_BEFORE, WAIT_MS, 'processed a few');
    stayed.pause();
    await stayed.until(() => N - stayed.processed.length === sent.filter((id) => stayed.stateOf(id) === 'waiting').length, WAIT_MS, 'no ack in flight');
    const takenBefore = new Set(stayed.processed.map((m) => m.dispatchId));
    await gw.kill('inner', 'SIGKILL');
    await gw.startInner();

    // A second workstation of the department, offline during the restart, connects now.
    const late = await WorkstationSim.connect({ ...connect, id: 'ws-int-02', password: demoPassword('ws-int-02')! }, { dept: 'INT' });
    closers.push(() => late.close());
    await stayed.until(() => stayed.client.connected, WAIT_MS, 'reconnected');
    stayed.resume();
    await late.until(() => stayed.processed.length + late.processed.length === N, WAIT_MS, 'all processed');

    const byStayed = stayed.processed.map((m) => m.dispatchId);
    const byLate = late.processed.map((m) => m.dispatchId);
    assert.is(new Set([...byStayed, ...byLate]).size, N, 'every message processed');
    assert.ok(byLate.every((id) => !byStayed.includes(id)), 'none processed twice');
    assert.ok(late.received.every((m) => !takenBefore.has(m.dispatchId)), 'what was taken before the crash is not redelivered');
    assert.equal(late.received.map((m) => m.seq), [...late.received.map((m) => m.seq)].sort((a, b) => a - b), 'redelivered in order');
    // It subscribed before the other resumed acknowledging, so it got the whole backlog.
    assert.is(late.received.length, N - takenBefore.size, 'the late workstation got the backlog');

    for (const close of closers.splice(0)) await close();
    await gw.stop();
    // The store agrees: each message acked once, by the workstation that processed it.
    const store = await Store.open(dataDir, pino({ level: 'silent' }));
    try {
      for (const id of sent) {
        const r = await store.get<DispatchRecord>(`dispatch!${id}`);
        assert.is(r?.status, 'acked', id);
        assert.is(r?.ackedBy, byStayed.includes(id) ? 'ws-int-01' : 'ws-int-02', id);
      }
      const acks = (await store.list<AuditEntry>('audit!')).filter(([, e]) => e.event.kind === 'dispatch.acked');
      assert.is(acks.length, N, 'one dispatch.acked audit entry per message');
    } finally {
      await store.close();
    }
    const verdict = await verifyAudit(dataDir);
    assert.ok(verdict.ok, JSON.stringify(verdict));
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await gw.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
});

test.run();
