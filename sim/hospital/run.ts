// A hospital day in simulation (`ferry sim hospital`): the gateway as real processes,
// the payment-server simulator, and every kind of device, with patients arriving on a
// morning-peaked curve to register, pay bills (wallet code or scan-to-pay), cancel and
// describe their symptoms. At the end the gateway is stopped and every invariant of
// docs/design.md is checked against its store and the payment server's books.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PaymentServerSim } from '../payment-server/server.js';
import { ProcessGateway } from '../gateway-processes.js';
import { KioskSim } from '../devices/kiosk.js';
import { BillingDeskSim } from '../devices/billing-desk.js';
import { ReceiverSim } from '../devices/receiver.js';
import { WorkstationSim } from '../devices/workstation.js';
import { isErrorReply } from '../../devices/client.js';
import type { DispatchQueuedBody, Reply } from '../../devices/protocol.js';
import { loadGatewayConfig, loadRules } from '../../runtime/rules/load.js';
import type { Scenario } from './scenario.js';
import { Random, arrivalTimes } from './random.js';
import { buildSimRules, EXAMPLE_RULES, LOAD_RATE, tomorrowLocal, type SimDevice } from './rules.js';
import { FlowStats } from './stats.js';
import { ScaledClock, sleepOn, systemClock, type Clock, type ClockTimer } from '../../runtime/common/clock.js';
import { checkInvariants, type InvariantResult, type Expectations } from './invariants.js';

// A patient's flow gives up after this long (a payment through an outage included).
const FLOW_TIMEOUT_MS = 90_000;
// After the last patient, how long the workstations and refunds get to finish.
const DRAIN_TIMEOUT_MS = 30_000;
const SESSIONS = ['morning', 'afternoon'] as const;
const SYMPTOMS = [
  'fever and cough for three days', 'headache since yesterday', 'my child has a rash and fever',
  'stomach pain after meals', 'sore throat and ear ache', 'chest pain when climbing stairs',
  'twisted ankle playing football', 'dizzy in the mornings',
];

export interface HospitalOptions {
  progress?: (line: string) => void; // called about once a second
  keepData?: boolean;
  // The gateway's store on this PostgreSQL database instead of LevelDB (README.md,
  // "Store backends").
  postgresUrl?: string;
  // Runs the day this many times faster than real time: arrivals, the outage window,
  // the payment server's delays and the gateway's own timers (both processes get the
  // same clock). Latencies are still measured in real milliseconds.
  speed?: number;
}

export interface HospitalReport {
  scenario: string;
  seconds: number;
  flows: ReturnType<FlowStats['rows']>;
  invariants: InvariantResult[];
  ok: boolean;
  dataDir?: string;
}

interface Devices {
  kiosks: KioskSim[];
  desks: KioskSim[];
  billing: BillingDeskSim[];
  receivers: ReceiverSim[];
  workstations: Map<string, WorkstationSim[]>;
  takenAt: Map<string, number>; // dispatchId -> when a workstation took it
}

export async function runHospital(s: Scenario, o: HospitalOptions = {}): Promise<HospitalReport> {
  // The run's length and the flows' latencies are real milliseconds (Date.now): they
  // measure the gateway, whatever the speed of the day's clock.
  const started = Date.now();
  const clock: Clock = o.speed !== undefined && o.speed !== 1 ? new ScaledClock(o.speed) : systemClock;
  const dayStarted = clock.now();
  const random = new Random(s.seed);
  // Triage may send a patient's message to any department of the rules, so every one
  // of them gets workstations, not only those the scenario's patients register with.
  const devices = scenarioDevices(s, [...loadRules(EXAMPLE_RULES).departments.departments.keys()]);
  const rulesDir = buildSimRules({
    devices: devices.all, rate: LOAD_RATE, holdTtlSeconds: 60, paymentGraceSeconds: 30,
    departments: Object.fromEntries(s.departments.map((d) => [d, s.capacity])),
    ...(o.postgresUrl !== undefined ? { postgresUrl: o.postgresUrl } : {}),
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-hospital-'));
  const sim = new PaymentServerSim();
  const { url } = await sim.start({ host: '127.0.0.1', port: 0, secret: loadGatewayConfig(rulesDir).payment.secret, qrDelayMs: 300, clock });
  sim.setFaults({ latencyMs: s.paymentServer.latencyMs, errorRate: s.paymentServer.errorRate, doubleCharge: s.paymentServer.testOnlyDoubleCharge ?? 0 });
  const gw = await ProcessGateway.create({ dataDir, rulesDir, paymentUrl: url, replyWaitMs: 2000, logLevel: process.env.FERRY_SIM_LOG ?? 'warn', ...(clock instanceof ScaledClock ? { clock } : {}) });
  sim.setNotifyUrl(gw.notifyUrl);
  const stats = new FlowStats();
  const expect: Expectations = { dispatches: new Map(), cancelledRegistrations: new Set(), acceptedOrders: new Set() };
  const timers: ClockTimer[] = [];
  let connected: Devices | undefined;
  try {
    await gw.startInner();
    await gw.startOuter();
    connected = await connectDevices(gw.mqttUrl, s, devices);
    const date = tomorrowLocal();
    await Promise.all(connected.receivers.map((r, i) => Promise.all(s.departments.filter((_, d) => d % connected!.receivers.length === i)
      .map((dept) => r.report(dept, date, SESSIONS.map((session) => ({ session, capacity: s.capacity[session], booked: 0 })))))));

    const outage = s.paymentServer.outage;
    if (outage) {
      timers.push(clock.setTimeout(() => void sim.setFaults({ down: true }), outage.atSecond * 1000));
      timers.push(clock.setTimeout(() => void sim.setFaults({ down: false }), (outage.atSecond + outage.forSeconds) * 1000));
    }
    const progress = clock.setInterval(() => o.progress?.(progressLine(clock, dayStarted, s, stats)), 1000);
    timers.push(progress);

    const arrivals = arrivalTimes(random, s.patients, s.durationSeconds * 1000);
    const visits = arrivals.map((at, i) => {
      const plan = planVisit(random, s, i);
      return new Promise<void>((resolve) => {
        timers.push(clock.setTimeout(() => void visit(plan, connected!, date, stats, expect).finally(resolve), at));
      });
    });
    await Promise.all(visits);
    await drain(clock, connected, expect, stats);
    clock.clearInterval(progress);
    o.progress?.(progressLine(clock, dayStarted, s, stats));
  } finally {
    for (const t of timers) clock.clearTimeout(t);
    if (outage(s)) await sim.setFaults({ down: false });
    await closeDevices(connected);
    await gw.stop();
  }
  const backend = o.postgresUrl !== undefined ? { kind: 'postgres' as const, url: o.postgresUrl } : undefined;
  const invariants = await checkInvariants(dataDir, sim, expect, workstationCounts(connected), backend);
  await sim.stop();
  fs.rmSync(rulesDir, { recursive: true, force: true });
  if (!o.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    scenario: s.name, seconds: (Date.now() - started) / 1000, flows: stats.rows(), invariants,
    ok: invariants.every((i) => i.ok), ...(o.keepData ? { dataDir } : {}),
  };
}

function outage(s: Scenario): boolean {
  return s.paymentServer.outage !== undefined;
}

function scenarioDevices(s: Scenario, allDepartments: string[]) {
  const pad = (n: number) => String(n).padStart(3, '0');
  const make = (prefix: string, role: SimDevice['role'], n: number, dept?: string): SimDevice[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${pad(i + 1)}`, role, password: `sim-${prefix}-${pad(i + 1)}`, ...(dept ? { dept } : {}) }));
  const kiosks = make('hk', 'kiosk', s.devices.kiosks);
  const desks = make('hdesk', 'registration_desk', s.devices.registrationDesks);
  const billing = make('hbill', 'billing_desk', s.devices.billingDesks);
  const receivers = make('hrecv', 'receiver', s.devices.receivers);
  const workstations = [...new Set([...allDepartments, ...s.departments])].flatMap((dept) => make(`hws-${dept.toLowerCase()}`, 'workstation', s.devices.workstationsPerDepartment, dept));
  return { kiosks, desks, billing, receivers, workstations, all: [...kiosks, ...desks, ...billing, ...receivers, ...workstations] };
}

async function connectDevices(url: string, s: Scenario, d: ReturnType<typeof scenarioDevices>): Promise<Devices> {
  const conn = (x: SimDevice) => ({ url, id: x.id, password: x.password });
  const workstations = new Map<string, WorkstationSim[]>();
  const takenAt = new Map<string, number>();
  for (const w of d.workstations) {
    const list = workstations.get(w.dept!) ?? [];
    const ws = await WorkstationSim.connect(conn(w), { dept: w.dept! });
    ws.on('processed', (m) => {
      if (!takenAt.has(m.dispatchId)) takenAt.set(m.dispatchId, Date.now());
    });
    list.push(ws);
    workstations.set(w.dept!, list);
  }
  return {
    kiosks: await Promise.all(d.kiosks.map((k) => KioskSim.connect(conn(k)))),
    desks: await Promise.all(d.desks.map((k) => KioskSim.connect(conn(k)))),
    billing: await Promise.all(d.billing.map((b) => BillingDeskSim.connect(conn(b)))),
    receivers: await Promise.all(d.receivers.map((r) => ReceiverSim.connect(conn(r)))),
    workstations,
    takenAt,
  };
}

async function closeDevices(d: Devices | undefined): Promise<void> {
  if (!d) return;
  await Promise.all([
    ...d.kiosks.map((k) => k.close()), ...d.desks.map((k) => k.close()), ...d.billing.map((b) => b.client.close()),
    ...d.receivers.map((r) => r.close()), ...[...d.workstations.values()].flat().map((w) => w.close()),
  ]);
}

interface Plan {
  patientId: string;
  register: { dept: string; session: (typeof SESSIONS)[number]; method: 'code' | 'qr'; cancel: boolean; atDesk: boolean } | null;
  bill: { method: 'code' | 'qr' } | null;
  info: { symptoms: string; dept?: string } | null;
  device: number; // which kiosk, desk or billing desk serves this patient
}

function planVisit(r: Random, s: Scenario, i: number): Plan {
  const method = (): 'code' | 'qr' => (r.chance(s.mix.scanToPay) ? 'qr' : 'code');
  let register = r.chance(s.mix.registration);
  const bill = r.chance(s.mix.billPayment);
  const info = r.chance(s.mix.patientInfo);
  if (!register && !bill && !info) register = true;
  return {
    patientId: `P-${s.seed}-${i}`,
    register: register ? { dept: r.pick(s.departments), session: r.pick(SESSIONS), method: method(), cancel: r.chance(s.mix.cancellation), atDesk: s.devices.registrationDesks > 0 && r.chance(0.3) } : null,
    bill: bill ? { method: method() } : null,
    info: info ? { symptoms: r.pick(SYMPTOMS), ...(r.chance(0.3) ? { dept: r.pick(s.departments) } : {}) } : null,
    device: r.int(0, 1_000_000),
  };
}

async function visit(p: Plan, d: Devices, date: string, stats: FlowStats, expect: Expectations): Promise<void> {
  const kiosk = d.kiosks[p.device % d.kiosks.length]!;
  let registrationId: string | undefined;
  if (p.register) registrationId = await register(p, d, date, stats, expect);
  if (p.bill) await payBill(p, kiosk, d.billing[p.device % d.billing.length]!, stats, expect);
  if (p.info) await patientInfo(p, kiosk, registrationId, stats, expect);
}

async function register(p: Plan, d: Devices, date: string, stats: FlowStats, expect: Expectations): Promise<string | undefined> {
  const r = p.register!;
  const device = r.atDesk && d.desks.length > 0 ? d.desks[p.device % d.desks.length]! : d.kiosks[p.device % d.kiosks.length]!;
  const t0 = Date.now();
  try {
    const outcome = await device.registerAndPay({ dept: r.dept, session: r.session, date, patientId: p.patientId }, r.method,
      { waitFinalMs: FLOW_TIMEOUT_MS, bookedWaitMs: FLOW_TIMEOUT_MS, recheckMs: 2000, request: { timeoutMs: FLOW_TIMEOUT_MS } });
    if (isErrorReply(outcome.held)) {
      stats.record('registration', Date.now() - t0, outcome.held.body.code === 'SOLD_OUT' ? 'refused' : 'failed', outcome.held.body.code);
      return undefined;
    }
    const reply = outcome.payment?.reply;
    if (reply && !isErrorReply(reply)) expect.acceptedOrders.add(reply.body.orderId);
    if (!outcome.booked) {
      stats.record('registration', Date.now() - t0, 'failed', reply && !isErrorReply(reply) ? reply.body.status : 'no answer');
      return undefined;
    }
    stats.record('registration', Date.now() - t0, 'ok');
    const registrationId = outcome.booked.body.registrationId;
    if (r.cancel) await cancel(p, device, registrationId, stats, expect);
    return r.cancel ? undefined : registrationId;
  } catch (err) {
    stats.record('registration', Date.now() - t0, 'failed', (err as Error).message.slice(0, 60));
    return undefined;
  }
}

async function cancel(p: Plan, device: KioskSim, registrationId: string, stats: FlowStats, expect: Expectations): Promise<void> {
  const t0 = Date.now();
  const refunded = device.client.waitFor((m: Reply) => m.type === 'registration.refunded' && (m.body as { registrationId?: string }).registrationId === registrationId, FLOW_TIMEOUT_MS);
  const reply = await device.cancelRegistration(registrationId, p.patientId, { timeoutMs: FLOW_TIMEOUT_MS });
  if (isErrorReply(reply)) {
    refunded.catch(() => undefined);
    stats.record('cancellation', Date.now() - t0, 'failed', reply.body.code);
    return;
  }
  expect.cancelledRegistrations.add(registrationId);
  try {
    const done = await refunded;
    stats.record('cancellation', Date.now() - t0, (done.body as { status: string }).status === 'succeeded' ? 'ok' : 'failed');
  } catch {
    stats.record('cancellation', Date.now() - t0, 'failed', 'no refund notice');
  }
}

async function payBill(p: Plan, kiosk: KioskSim, desk: BillingDeskSim, stats: FlowStats, expect: Expectations): Promise<void> {
  const flow = p.bill!.method === 'qr' ? 'bill payment (scan-to-pay)' : 'bill payment (wallet code)';
  const created = await desk.createBill({
    patientId: p.patientId, reference: `INV-${p.patientId}`,
    items: [{ code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 }, { code: 'MED-104', name: 'Amoxicillin', quantity: 2, unitPrice: 1850 }],
  }, { timeoutMs: FLOW_TIMEOUT_MS }).catch((err: Error) => err);
  if (created instanceof Error || isErrorReply(created)) {
    stats.record(flow, 0, 'failed', created instanceof Error ? created.message.slice(0, 60) : created.body.code);
    return;
  }
  const t0 = Date.now();
  try {
    const outcome = await kiosk.payBill({ billId: created.body.billId, amount: created.body.total, method: p.bill!.method },
      { waitFinalMs: FLOW_TIMEOUT_MS, recheckMs: 2000, request: { timeoutMs: FLOW_TIMEOUT_MS } });
    const reply = outcome.reply;
    if (isErrorReply(reply)) return stats.record(flow, Date.now() - t0, 'failed', reply.body.code);
    expect.acceptedOrders.add(reply.body.orderId);
    stats.record(flow, Date.now() - t0, reply.body.status === 'succeeded' ? 'ok' : 'failed', reply.body.status);
  } catch (err) {
    stats.record(flow, Date.now() - t0, 'failed', (err as Error).message.slice(0, 60));
  }
}

async function patientInfo(p: Plan, kiosk: KioskSim, registrationId: string | undefined, stats: FlowStats, expect: Expectations): Promise<void> {
  const t0 = Date.now();
  const body = { symptoms: p.info!.symptoms, patientId: p.patientId, ...(registrationId ? { registrationId } : p.info!.dept ? { dept: p.info!.dept } : {}) };
  try {
    const reply = await kiosk.client.request('patient.info', body, { timeoutMs: FLOW_TIMEOUT_MS });
    if (isErrorReply(reply)) return stats.record('patient information', Date.now() - t0, 'failed', reply.body.code);
    const queued = reply.body as unknown as DispatchQueuedBody;
    expect.dispatches.set(queued.dispatchId, { dept: queued.dept, sentAt: t0 });
  } catch (err) {
    stats.record('patient information', Date.now() - t0, 'failed', (err as Error).message.slice(0, 60));
  }
}

// Waits until every dispatched message was taken by a workstation of its department,
// then records each one's latency from the kiosk to the workstation.
async function drain(clock: Clock, d: Devices, expect: Expectations, stats: FlowStats): Promise<void> {
  const deadline = clock.now() + DRAIN_TIMEOUT_MS;
  while ([...expect.dispatches.keys()].some((id) => !d.takenAt.has(id)) && clock.now() < deadline) {
    await sleepOn(clock, 100);
  }
  for (const [id, e] of expect.dispatches) {
    const at = d.takenAt.get(id);
    if (at !== undefined) stats.record('patient information', at - e.sentAt, 'ok');
    else stats.record('patient information', Date.now() - e.sentAt, 'failed', 'not taken');
  }
}

function workstationCounts(d: Devices | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const list of d?.workstations.values() ?? []) {
    for (const ws of list) for (const m of ws.processed) counts.set(m.dispatchId, (counts.get(m.dispatchId) ?? 0) + 1);
  }
  return counts;
}

// The seconds of the day so far, on its clock.
function progressLine(clock: Clock, started: number, s: Scenario, stats: FlowStats): string {
  const secs = ((clock.now() - started) / 1000).toFixed(0).padStart(3);
  const parts = stats.rows().map((r) => `${r.flow} ${r.ok}/${r.count}`);
  return `[${secs}s] ${s.name}: ${parts.join(' · ') || 'starting'}`;
}
