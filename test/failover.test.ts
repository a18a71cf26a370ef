// An active/standby pair on one PostgreSQL, killed under load (docs/ha.md): two gateway
// boxes, each its inner and outer side as real processes on ports of its own; kiosks and
// registration desks given both boxes' addresses pay bills and book slots while the
// active box is killed with SIGKILL (both its processes, at a random moment) several
// times, and then the database restarts. Each time the standby must take over within
// TAKEOVER_MAX_MS; afterwards every accepted payment is final, none is charged twice at
// the payment server, no session is overbooked and the audit chain verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { KioskSim } from '../sim/devices/kiosk.js';
import { BillingDeskSim } from '../sim/devices/billing-desk.js';
import { isErrorReply, type ConnectOptions } from '../devices/client.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';
import { ProcessGateway, freePort } from '../sim/gateway-processes.js';
import { buildSimRules, LOAD_RATE, tomorrowLocal, type SimDevice } from '../sim/hospital/rules.js';
import { loadGatewayConfig } from '../runtime/rules/load.js';
import { configurePairBox, postgresUnavailable, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { tempDir } from './helpers/gateway.js';
import { SIDE_EXIT } from '../runtime/common/side-exit.js';

const ROUNDS = 3;
const TAKEOVER_MAX_MS = 10_000; // what the pair promises: kill to the standby serving
const KIOSKS = 4;
const DESKS = 2;
const SLOTS = 12; // TST morning, fewer than the desks try to book
const BOOKINGS_PER_DESK = 10;
// Between two kills: long enough for the workload to run on the new active box.
const KILL_AFTER_MS = { min: 1_500, max: 4_000 };
// What a device waits through a failover: a request is resent every second and answered
// by whichever box is active then.
const REQUEST = { timeoutMs: 30_000, resendMs: 1_000 };
const DRAIN_MS = 30_000;
const POLL_MS = 50;

const skip = postgresUnavailable();
const TOKEN = 'failover-test-read-token-0123456789abcdef';

interface Box { name: string; gw: ProcessGateway }

function pairRules(url: string): { rulesDir: string; devices: SimDevice[] } {
  const devices: SimDevice[] = [
    ...Array.from({ length: KIOSKS }, (_, i) => ({ id: `fo-kiosk-${i + 1}`, role: 'kiosk' as const, password: `pw-fo-kiosk-${i + 1}` })),
    ...Array.from({ length: DESKS }, (_, i) => ({ id: `fo-desk-${i + 1}`, role: 'registration_desk' as const, password: `pw-fo-desk-${i + 1}` })),
    { id: 'fo-billing', role: 'billing_desk' as const, password: 'pw-fo-billing' },
  ];
  const rulesDir = buildSimRules({ devices, rate: LOAD_RATE, departments: { TST: { morning: SLOTS, afternoon: 0, fee: 1500 } }, holdTtlSeconds: 300, paymentGraceSeconds: 600 });
  configurePairBox(rulesDir, url, { port: 8470, token: TOKEN });
  return { rulesDir, devices };
}

async function readyz(box: Box): Promise<{ status: number; role?: string }> {
  try {
    const res = await fetch(`${box.gw.managementUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const body = await res.json() as { role?: string };
    return { status: res.status, ...(body.role ? { role: body.role } : {}) };
  } catch {
    return { status: 0 }; // not listening (a box that is down or starting)
  }
}

async function api<T>(box: Box, route: string): Promise<T> {
  const res = await fetch(`${box.gw.managementUrl}${route}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(30_000) });
  assert.is(res.status, 200, `${route}: ${res.status}`);
  return await res.json() as T;
}

async function listAll<T>(box: Box, kind: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: T[]; nextCursor: string | null } = await api(box, `/v1/query/${kind}?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return Date.now() - started;
}

async function startBox(box: Box): Promise<void> {
  await box.gw.startInner({ until: 'management' });
  await box.gw.startOuter();
}

async function killBox(box: Box): Promise<void> {
  await Promise.all([box.gw.kill('inner', 'SIGKILL'), box.gw.kill('outer', 'SIGKILL')]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomBetween = ({ min, max }: { min: number; max: number }) => min + Math.floor(Math.random() * (max - min));

test('the standby takes over within 10 s each time the active box is killed under load, and when the database restarts; every accepted payment ends final, once charged, no session overbooked, the audit chain intact', async () => {
  if (skip) {
    console.log(`  skipped: ${skip}`);
    return;
  }
  let pg: TestPostgres | undefined;
  let sim: PaymentServerSim | undefined;
  const boxes: Box[] = [];
  const clients: Array<{ close(): Promise<void> }> = [];
  const dirs: string[] = [];
  try {
    pg = await startPostgres();
    const { rulesDir, devices } = pairRules(await pg.createDatabase('failover'));
    dirs.push(rulesDir);
    sim = new PaymentServerSim();
    const { url: paymentUrl } = await sim.start({ host: '127.0.0.1', port: 0, secret: loadGatewayConfig(rulesDir).payment.secret, qrDelayMs: 100 });
    for (const name of ['A', 'B']) {
      const dataDir = tempDir(`failover-${name}`);
      dirs.push(dataDir);
      boxes.push({ name, gw: await ProcessGateway.create({ dataDir, rulesDir, paymentUrl, managementPort: await freePort() }) });
    }
    const [a, b] = boxes as [Box, Box];
    // A first, so that it is the active one; then B, which must stay the standby.
    await startBox(a);
    await until(async () => (await readyz(a)).status === 200, 20_000, 'box A active');
    await startBox(b);
    assert.equal(await readyz(b), { status: 503, role: 'standby' });
    sim.setNotifyUrl(a.gw.notifyUrl);

    const urls = boxes.map((x) => x.gw.mqttUrl);
    const login = (id: string): ConnectOptions => ({ url: urls, id, password: devices.find((d) => d.id === id)!.password, connectTimeoutMs: 20_000 });
    const billing = await BillingDeskSim.connect(login('fo-billing'));
    clients.push(billing.client);
    const kiosks = await Promise.all(Array.from({ length: KIOSKS }, (_, i) => KioskSim.connect(login(`fo-kiosk-${i + 1}`))));
    const desks = await Promise.all(Array.from({ length: DESKS }, (_, i) => KioskSim.connect(login(`fo-desk-${i + 1}`))));
    clients.push(...kiosks, ...desks);

    // The workload: each kiosk has the billing desk make a bill and pays it, again and
    // again; each desk books tomorrow's TST morning slots for new patients.
    let stopping = false;
    const accepted = new Map<string, string>(); // orderId -> billId, every payment a kiosk was answered for
    const paidBills: string[] = [];
    const booked: string[] = [];
    let refusedFull = 0;
    const payLoop = async (kiosk: KioskSim, k: number) => {
      for (let n = 0; !stopping; n++) {
        const patientId = `P-FO-${k}-${n}`;
        const created = await billing.createBill({ patientId, reference: `INV-FO-${k}-${n}`, items: [{ code: 'LAB-001', name: 'Blood test', quantity: 1, unitPrice: 3500 }] }, REQUEST);
        if (isErrorReply(created)) throw new Error(`bill.create refused: ${JSON.stringify(created.body)}`);
        const billId = created.body.billId;
        const outcome = await kiosk.payBill({ billId, amount: 3500, method: 'code' }, { request: REQUEST, waitFinalMs: 30_000, recheckMs: 1_000 });
        const reply = outcome.reply;
        if (isErrorReply(reply)) throw new Error(`payment refused: ${JSON.stringify(reply.body)}`);
        accepted.set(reply.body.orderId, billId);
        assert.is(reply.body.status, 'succeeded', `bill ${billId}: ${JSON.stringify(reply.body)}`);
        paidBills.push(billId);
      }
    };
    const bookLoop = async (desk: KioskSim, d: number) => {
      for (let n = 0; n < BOOKINGS_PER_DESK && !stopping; n++) {
        const outcome = await desk.registerAndPay({ dept: 'TST', session: 'morning', date: tomorrowLocal(), patientId: `P-FO-R${d}-${n}` }, 'code',
          { request: REQUEST, waitFinalMs: 30_000, recheckMs: 1_000, bookedWaitMs: 30_000 });
        if (isErrorReply(outcome.held)) {
          assert.is(outcome.held.body.code, 'SOLD_OUT', JSON.stringify(outcome.held.body));
          refusedFull += 1;
          continue;
        }
        if (outcome.payment && !isErrorReply(outcome.payment.reply)) accepted.set(outcome.payment.reply.body.orderId, outcome.held.body.registrationId);
        if (outcome.booked) booked.push(outcome.held.body.registrationId);
        await sleep(randomBetween({ min: 200, max: 800 })); // staff at a desk are not a burst
      }
    };
    const work = Promise.all([...kiosks.map(payLoop), ...desks.map(bookLoop)]);
    work.catch(() => {}); // awaited below

    const takeovers: number[] = [];
    let active = a;
    for (let round = 1; round <= ROUNDS; round++) {
      await sleep(randomBetween(KILL_AFTER_MS));
      const standby = active === a ? b : a;
      const killedAt = Date.now();
      await killBox(active);
      const ms = await until(async () => (await readyz(standby)).status === 200, TAKEOVER_MAX_MS + 5_000, `round ${round}: box ${standby.name} takes over`);
      takeovers.push(Date.now() - killedAt);
      console.log(`  round ${round}: box ${active.name} killed; box ${standby.name} active after ${takeovers.at(-1)} ms (readyz polled every ${POLL_MS} ms; ${ms} ms after the kill returned)`);
      sim.setNotifyUrl(standby.gw.notifyUrl);
      // The killed box comes back, as the standby.
      await startBox(active);
      assert.is((await readyz(active)).role, 'standby', `box ${active.name} restarts as the standby`);
      active = standby;
    }
    // Last, the database restarts under the same load: every lock session drops, the
    // active box steps down (exit status 5, and it is started again as a supervisor
    // would), and the standby takes the lock on the restarted server.
    await sleep(randomBetween(KILL_AFTER_MS));
    {
      const standby = active === a ? b : a;
      const exited = active.gw.exited('inner');
      const restartedAt = Date.now();
      await pg.restart('fast');
      await until(async () => (await readyz(standby)).status === 200, TAKEOVER_MAX_MS + 5_000, `box ${standby.name} takes over after the database restart`);
      takeovers.push(Date.now() - restartedAt);
      console.log(`  database restart: box ${active.name} stepped down; box ${standby.name} active ${takeovers.at(-1)} ms after the restart began`);
      assert.equal(await exited, { code: SIDE_EXIT.steppedDown, signal: null }, `box ${active.name} stepped down`);
      sim.setNotifyUrl(standby.gw.notifyUrl);
      await active.gw.startInner({ until: 'management' });
      assert.is((await readyz(active)).role, 'standby', `box ${active.name} restarts as the standby`);
      active = standby;
    }
    stopping = true;
    await work;

    for (const [i, ms] of takeovers.entries()) assert.ok(ms < TAKEOVER_MAX_MS, `takeover ${i + 1} took ${ms} ms`);
    console.log(`  takeovers: ${takeovers.join(', ')} ms; ${paidBills.length} bills paid, ${booked.length} slots booked, ${refusedFull} refused as sold out`);
    assert.ok(paidBills.length >= ROUNDS, `the kiosks paid through the failovers (${paidBills.length})`);

    // The journal drains: an order in flight at a kill is finished by the next box.
    await until(async () => (await listAll<{ status: string }>(active, 'payments')).every((p) => p.status === 'succeeded' || p.status === 'failed'), DRAIN_MS, 'every order final');
    const payments = await listAll<{ orderId: string; status: string; billId?: string; registrationId?: string }>(active, 'payments');
    for (const orderId of accepted.keys()) {
      const p = payments.find((x) => x.orderId === orderId);
      assert.ok(p, `accepted order ${orderId} is in the store`);
      assert.is(p!.status, 'succeeded', `accepted order ${orderId}`);
    }
    const succeeded = payments.filter((p) => p.status === 'succeeded');
    for (const p of payments) assert.ok(sim.chargesFor(p.orderId) <= 1, `order ${p.orderId} charged ${sim.chargesFor(p.orderId)} times`);
    for (const p of succeeded) assert.is(sim.chargesFor(p.orderId), 1, `succeeded order ${p.orderId} charged once`);
    const byBill = new Map<string, number>();
    for (const p of succeeded) if (p.billId) byBill.set(p.billId, (byBill.get(p.billId) ?? 0) + 1);
    for (const [billId, n] of byBill) assert.is(n, 1, `bill ${billId} paid ${n} times`);
    assert.is(sim.totalCharges(), succeeded.length, 'the payment server charged exactly the succeeded orders');

    const registrations = await listAll<{ status: string; session: string; dept: string }>(active, 'registrations');
    const bookedNow = registrations.filter((r) => r.dept === 'TST' && r.session === 'morning' && r.status === 'booked').length;
    assert.ok(bookedNow <= SLOTS, `TST morning booked ${bookedNow} of ${SLOTS}`);
    for (const id of booked) assert.ok(registrations.some((r) => (r as { registrationId?: string }).registrationId === id && r.status === 'booked'), `booking ${id} stands`);

    const verdict = await api<{ ok: boolean; entries: number }>(active, '/v1/audit/verify');
    assert.ok(verdict.ok, JSON.stringify(verdict));
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    for (const box of boxes) await killBox(box);
    await sim?.stop();
    await pg?.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
