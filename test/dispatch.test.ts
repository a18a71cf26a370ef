// Dispatch of patient information to departments (invariant 4 of docs/design.md): routing by
// booking, named department and triage rules; the inbox in the store; delivery to
// workstations, redelivery on reconnect and after the redelivery time; each message
// processed once per department, in order; and patient information never on the channel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import YAML from 'yaml';
import type { DeviceClient } from '../devices/client.js';
import type { DispatchAckedBody, DispatchQueuedBody, ErrorBody, PatientInfoBody, Reply } from '../devices/protocol.js';
import { demoPassword } from '../sim/demo-devices.js';
import { WorkstationSim } from '../sim/devices/workstation.js';
import { checkRecord, RECEIVES, RecordError } from '../runtime/channel/records.js';
import { loadRules } from '../runtime/rules/load.js';
import { classify } from '../runtime/inner/dispatch/route.js';
import { dispatchKey, type DispatchRecord } from '../runtime/inner/dispatch/records.js';
import { errorEntry } from '../runtime/common/errors.js';
import type { AuditEntry } from '../runtime/inner/store/store.js';
import { copyRules, LOAD_RATE, PROJECT_DIR, startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';

const run = promisify(execFile);

const WAIT_MS = 15_000;

let gw: TestGateway | null = null;
const dirs: string[] = [];
const stations: WorkstationSim[] = [];

// A copy of the example rules with load-test rates and the given redelivery time.
function rulesWith(redeliverAfterMs?: number): string {
  const dir = copyRules({ rate: LOAD_RATE });
  dirs.push(dir);
  if (redeliverAfterMs !== undefined) {
    const file = path.join(dir, 'triage.yaml');
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
    doc.setIn(['dispatch', 'redeliverAfterMs'], redeliverAfterMs);
    fs.writeFileSync(file, doc.toString());
  }
  return dir;
}

async function gateway(redeliverAfterMs?: number): Promise<TestGateway> {
  gw = await startTestGateway({ rulesDir: rulesWith(redeliverAfterMs) });
  return gw;
}

async function station(id: string, dept: string, autoAck = true): Promise<WorkstationSim> {
  const ws = await WorkstationSim.connect({ url: gw!.mqttUrl, id, password: demoPassword(id)! }, { dept, autoAck });
  stations.push(ws);
  return ws;
}

async function tell(kiosk: DeviceClient, body: PatientInfoBody): Promise<DispatchQueuedBody> {
  const reply = await kiosk.request('patient.info', body);
  assert.is(reply.type, 'dispatch.queued', JSON.stringify(reply.body));
  return reply.body as unknown as DispatchQueuedBody;
}

async function record(dispatchId: string): Promise<DispatchRecord> {
  const r = await gw!.inner.store.get<DispatchRecord>(dispatchKey(dispatchId));
  assert.ok(r, `dispatch ${dispatchId} is stored`);
  return r!;
}

test.after.each(async () => {
  await Promise.all(stations.splice(0).map((s) => s.close()));
  await gw?.close();
  gw = null;
});

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

// A broken invariant of the store is an assertion: logged with its stack as an
// unexpected error, answered with the catalogue's sentence, never with the gateway's
// internals (a key, a record id) in the device's message.
test('a resend of a patient.info whose stored message is gone is answered INTERNAL with the catalogue sentence', async () => {
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const body = { symptoms: 'fever since yesterday', dept: 'PED', patientId: 'P-7' };
  const first = await kiosk.request<DispatchQueuedBody>('patient.info', body, { id: 'pi-gone-1' });
  assert.is(first.type, 'dispatch.queued', JSON.stringify(first));
  await gw!.inner.store.transact(async (tx) => tx.del(dispatchKey(first.body.dispatchId)));
  const again = await kiosk.request<ErrorBody>('patient.info', body, { id: 'pi-gone-1' });
  assert.is(again.type, 'error', JSON.stringify(again));
  assert.is(again.body.code, 'INTERNAL');
  assert.is(again.body.message, errorEntry('device', 'INTERNAL').message);
});

test('a message naming a department is stored in its inbox, reaches its workstation and is acked there', async () => {
  await gateway();
  const ped = await station('ws-ped-01', 'PED');
  const int = await station('ws-int-01', 'INT');
  const kiosk = await gw!.device('kiosk-01');
  const queued = await tell(kiosk, { symptoms: 'fever since yesterday', dept: 'PED', patientId: 'P-7', vitals: { temperatureC: 38.6, pulseBpm: 110 } });
  assert.is(queued.dept, 'PED');
  assert.is(queued.routedBy, 'dept');
  assert.is(queued.seq, 1);
  await ped.until(() => ped.processed.length === 1, WAIT_MS, 'processed');
  const got = ped.processed[0]!;
  assert.is(got.dispatchId, queued.dispatchId);
  assert.is(got.symptoms, 'fever since yesterday');
  assert.equal(got.vitals, { temperatureC: 38.6, pulseBpm: 110 });
  assert.is(got.kiosk, 'kiosk-01');
  const stored = await record(queued.dispatchId);
  assert.is(stored.status, 'acked');
  assert.is(stored.ackedBy, 'ws-ped-01');
  assert.is(stored.dept, 'PED');
  // A message for INT after it: INT's workstation gets that one and never PED's.
  const second = await tell(kiosk, { symptoms: 'cough', dept: 'INT' });
  await int.until(() => int.processed.length === 1, WAIT_MS, 'processed');
  assert.equal(int.received.map((m) => m.dispatchId), [second.dispatchId]);
});

test('triage routes by keyword, by pattern and to the default department, with the rule\'s priority', async () => {
  const triage = loadRules(rulesWith()).triage;
  const cases: Array<[string, string, string, string]> = [
    ['Sudden CHEST PAIN and sweating', 'INT', 'urgent', 'triage'],
    ['fell off a bike, maybe a fracture', 'SUR', 'high', 'triage'],
    ['右手骨折', 'SUR', 'high', 'triage'],
    ['my son is 4 years old and has a rash', 'PED', 'normal', 'triage'],
    ['pain in my left ear', 'ENT', 'normal', 'triage'],
    ['my heart races at night', 'INT', 'normal', 'default'], // "ear" is not a word of "heart"
    ['tired all the time', 'INT', 'normal', 'default'],
  ];
  for (const [text, dept, priority, routedBy] of cases) {
    const route = classify(text, triage);
    assert.equal([route.dept, route.priority, route.routedBy], [dept, priority, routedBy], text);
  }
  // The same through the gateway, with the kiosk told where the message went.
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const urgent = await tell(kiosk, { symptoms: 'chest pain since an hour' });
  assert.equal([urgent.dept, urgent.priority, urgent.routedBy, urgent.rule], ['INT', 'urgent', 'triage', 'chest-pain']);
  const child = await tell(kiosk, { symptoms: 'baby 9 months old, not eating' });
  assert.equal([child.dept, child.routedBy], ['PED', 'triage']);
  const plain = await tell(kiosk, { symptoms: 'headache' });
  assert.equal([plain.dept, plain.priority, plain.routedBy], ['INT', 'normal', 'default']);
});

test('a booked registration decides the department; a hold that is not booked does not', async () => {
  await gateway();
  await gw!.inner.store.transact((tx) => {
    tx.put('reg!R20260101-test-000001', { registrationId: 'R20260101-test-000001', dept: 'ENT', status: 'booked' });
    tx.put('reg!R20260101-test-000002', { registrationId: 'R20260101-test-000002', dept: 'ENT', status: 'held' });
  });
  const kiosk = await gw!.device('kiosk-01');
  const booked = await tell(kiosk, { symptoms: 'chest pain', registrationId: 'R20260101-test-000001', dept: 'SUR' });
  assert.equal([booked.dept, booked.routedBy, booked.priority], ['ENT', 'booking', 'urgent']);
  const held = await tell(kiosk, { symptoms: 'headache', registrationId: 'R20260101-test-000002', dept: 'SUR' });
  assert.equal([held.dept, held.routedBy], ['SUR', 'dept']);
  const unknown = await tell(kiosk, { symptoms: 'headache', registrationId: 'R-nope' });
  assert.equal([unknown.dept, unknown.routedBy], ['INT', 'default']);
});

test('a department that departments.yaml does not name is refused with UNKNOWN_DEPT', async () => {
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const reply = await kiosk.request('patient.info', { symptoms: 'headache', dept: 'XYZ' }) as Reply<ErrorBody>;
  assert.is(reply.type, 'error');
  assert.is(reply.body.code, 'UNKNOWN_DEPT');
  assert.equal(await gw!.inner.store.list('dispatch!'), []);
});

test('a workstation that was offline gets the messages queued meanwhile, in order, once it is back', async () => {
  await gateway();
  const first = await station('ws-int-01', 'INT');
  await first.close();
  const kiosk = await gw!.device('kiosk-01');
  const sent: string[] = [];
  for (let i = 0; i < 8; i++) sent.push((await tell(kiosk, { symptoms: `patient ${i}`, dept: 'INT' })).dispatchId);
  for (const id of sent) assert.is((await record(id)).status, 'queued', 'nobody was listening');
  const back = await station('ws-int-01', 'INT');
  await back.until(() => back.processed.length === sent.length, WAIT_MS, 'processed the backlog');
  assert.equal(back.received.map((m) => m.dispatchId), sent);
  assert.equal(back.received.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.ok(back.received.every((m) => m.redelivery), 'marked as sent before');
  for (const id of sent) assert.is((await record(id)).status, 'acked');
});

test('a message no workstation acknowledges is sent again after the redelivery time, and processed once', async () => {
  await gateway(300);
  const ws = await station('ws-int-01', 'INT', false);
  const kiosk = await gw!.device('kiosk-01');
  const { dispatchId } = await tell(kiosk, { symptoms: 'dizzy', dept: 'INT' });
  await ws.until(() => ws.received.length === 1, WAIT_MS, 'received');
  await waitFor(async () => (await record(dispatchId)).status === 'delivered', WAIT_MS, 'marked delivered');
  await ws.until(() => ws.copies >= 2, WAIT_MS, 'received again');
  ws.resume();
  await ws.until(() => ws.processed.length === 1, WAIT_MS, 'processed');
  assert.is(ws.received.length, 1);
  assert.is((await record(dispatchId)).status, 'acked');
});

test('two workstations of one department: each message is processed once for the department', async () => {
  await gateway();
  const a = await station('ws-int-01', 'INT');
  const b = await station('ws-int-02', 'INT');
  const kiosks = [await gw!.device('kiosk-01'), await gw!.device('kiosk-02')];
  const N = 40;
  const queued = await Promise.all(Array.from({ length: N }, (_, i) => tell(kiosks[i % 2]!, { symptoms: `patient ${i}`, dept: 'INT' })));
  const ids = new Set(queued.map((q) => q.dispatchId));
  const settled = () => a.processed.length + b.processed.length === N;
  await a.until(settled, WAIT_MS, 'all processed by one of the two');
  const byA = new Set(a.processed.map((m) => m.dispatchId));
  const byB = new Set(b.processed.map((m) => m.dispatchId));
  assert.is(new Set([...byA, ...byB]).size, N, 'every message processed');
  assert.ok([...byA].every((id) => !byB.has(id)), 'none processed by both');
  for (const id of ids) {
    const r = await record(id);
    assert.is(r.status, 'acked');
    assert.is(r.ackedBy, byA.has(id) ? 'ws-int-01' : 'ws-int-02');
  }
  const acks = (await gw!.inner.store.list<AuditEntry>('audit!')).filter(([, e]) => e.event.kind === 'dispatch.acked');
  assert.is(acks.length, N, 'one dispatch.acked audit entry per message');
  assert.is(new Set(acks.map(([, e]) => e.event.dispatchId)).size, N);
});

test('the second ack of a message is answered as a duplicate naming who took it, not as an error', async () => {
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const { dispatchId } = await tell(kiosk, { symptoms: 'back pain', dept: 'INT' });
  const one = await gw!.device('ws-int-01');
  const two = await gw!.device('ws-int-02');
  const first = await one.request('dispatch.ack', { dispatchId }) as Reply<DispatchAckedBody>;
  const second = await two.request('dispatch.ack', { dispatchId }) as Reply<DispatchAckedBody>;
  assert.equal([first.type, first.body.status, first.body.ackedBy], ['dispatch.acked', 'acked', 'ws-int-01']);
  assert.equal([second.type, second.body.status, second.body.ackedBy], ['dispatch.acked', 'duplicate', 'ws-int-01']);
  // The first request resent (its answer lost) is answered as the first time.
  const again = await one.request('dispatch.ack', { dispatchId }, { id: first.re! }) as Reply<DispatchAckedBody>;
  assert.is(again.body.status, 'acked');
});

test('a workstation cannot acknowledge a message of another department', async () => {
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const { dispatchId } = await tell(kiosk, { symptoms: 'rash', dept: 'PED' });
  const int = await gw!.device('ws-int-01');
  const reply = await int.request('dispatch.ack', { dispatchId }) as Reply<ErrorBody>;
  assert.equal([reply.type, reply.body.code], ['error', 'DISPATCH_NOT_FOUND']);
  assert.is((await record(dispatchId)).status, 'queued');
});

test('order is kept per department: each workstation sees its department\'s messages in the order they were accepted', async () => {
  await gateway();
  const int = await station('ws-int-01', 'INT');
  const ped = await station('ws-ped-01', 'PED');
  const kiosks = [await gw!.device('kiosk-01'), await gw!.device('kiosk-02')];
  const sent: Record<string, string[]> = { INT: [], PED: [] };
  for (let i = 0; i < 30; i++) {
    const dept = i % 3 === 0 ? 'PED' : 'INT';
    sent[dept]!.push((await tell(kiosks[i % 2]!, { symptoms: `patient ${i}`, dept })).dispatchId);
  }
  await int.until(() => int.processed.length === sent.INT!.length, WAIT_MS, 'INT processed');
  await ped.until(() => ped.processed.length === sent.PED!.length, WAIT_MS, 'PED processed');
  assert.equal(int.received.map((m) => m.dispatchId), sent.INT);
  assert.equal(ped.received.map((m) => m.dispatchId), sent.PED);
  assert.equal(int.received.map((m) => m.seq), sent.INT!.map((_, i) => i + 1));
  assert.equal(ped.received.map((m) => m.seq), sent.PED!.map((_, i) => i + 1));
});

test('patient information cannot cross to the payment side: the channel refuses it as a record of its own and on every payment record', async () => {
  await gateway();
  const kiosk = await gw!.device('kiosk-01');
  const { dispatchId } = await tell(kiosk, { symptoms: 'chest pain', patientId: 'P-1001', vitals: { pulseBpm: 120 } });
  const stored = await record(dispatchId);
  const patientFields = { patientId: stored.patientId, symptoms: stored.symptoms, vitals: stored.vitals, dept: stored.dept, dispatchId };
  const refused = (value: unknown, side: 'inner' | 'outer') => {
    assert.throws(() => checkRecord(value, side), (err: unknown) => err instanceof RecordError, JSON.stringify(value));
  };
  for (const side of ['inner', 'outer'] as const) {
    for (const kind of RECEIVES[side]) assert.not.match(kind, /patient|dispatch|triage|symptom/, `${kind} is a payment record kind`);
    refused({ k: 'patient.info', ...patientFields }, side);
    refused({ k: 'dispatch', ...stored }, side);
  }
  // Valid records of each kind that a payment needs, each with one field of the
  // patient's message added: all refused (see also test/channel.test.ts).
  const valid = {
    outer: { k: 'order', orderId: 'P20261126-abcd-000001', amount: 100, currency: 'CNY', method: 'qr', description: 'Bill B1' },
    inner: { k: 'outcome', orderId: 'P20261126-abcd-000001', status: 'succeeded', amount: 100 },
  } as const;
  for (const side of ['inner', 'outer'] as const) {
    assert.ok(checkRecord(valid[side], side), 'the record alone is valid');
    for (const [field, value] of Object.entries(patientFields)) refused({ ...valid[side], [field]: value }, side);
    refused({ ...valid[side], description: stored.symptoms, reason: stored.symptoms, extra: stored }, side);
  }
});

test('ferry sim workstation shows and acknowledges what ferry sim kiosk patient-info sends', async () => {
  await gateway();
  const ferry = path.join(PROJECT_DIR, 'bin/ferry.js');
  const watcher = spawn(process.execPath, [ferry, 'sim', 'workstation', '--device', 'ws-ped-01', '--url', gw!.mqttUrl, '--count', '1', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => watcher.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => gw!.inner.dispatcher.listening('PED') === 1, WAIT_MS, 'the workstation to subscribe');
    const kiosk = await run(ferry, ['sim', 'kiosk', 'patient-info', '--url', gw!.mqttUrl, '--symptoms', 'my baby is 6 months old and coughs', '--temp', '38.4']);
    assert.match(kiosk.stdout, /^dispatched D[0-9]{8}-[a-z]{4}-[0-9]+ to PED as #1, priority normal \(by triage rule child\)$/m);
    assert.is(await exited, 0, 'the workstation exits after --count 1');
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; message?: { symptoms: string; vitals: object } });
    assert.equal(events.map((e) => e.event), ['received', 'taken']);
    assert.is(events[0]!.message!.symptoms, 'my baby is 6 months old and coughs');
    assert.equal(events[0]!.message!.vitals, { temperatureC: 38.4 });
  } finally {
    watcher.kill();
  }
});

test.run();
