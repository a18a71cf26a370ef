// Devices that ask again: a billing desk asks for the state of its own bills
// (bill.status), a kiosk or registration desk for a patient's registrations with their
// visit numbers (registration.query). Both go through the real broker and the gap's
// whitelist, role, schema and rate checks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { startTestGateway, sampleItems, sampleTotal, type TestGateway } from './helpers/gateway.js';
import { buildSimRules, tomorrowLocal } from '../sim/hospital/rules.js';
import { BillingDeskSim } from '../sim/devices/billing-desk.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import type { BillStateBody, RegistrationListBody } from '../devices/protocol.js';
import { api, ferry, tokens } from './helpers/management.js';

let gw: TestGateway;
let rulesDir: string;
let desk: BillingDeskSim;
let otherDesk: BillingDeskSim;
let kiosk: KioskSim;
let regDesk: KioskSim;
const DATE = tomorrowLocal();

test.before(async () => {
  rulesDir = buildSimRules({
    devices: [
      { id: 'billing-02', role: 'billing_desk', password: 'pw-billing-02' },
      { id: 'billing-03', role: 'billing_desk', password: 'pw-billing-03' }, // for the simulator commands
    ],
    departments: { TST: { morning: 5, afternoon: 5, fee: 1500 }, TAK: { morning: 5, afternoon: 5, fee: 1500 } },
  });
  gw = await startTestGateway({ rulesDir, qrDelayMs: 150 });
  desk = new BillingDeskSim(await gw.device('billing-01'));
  otherDesk = new BillingDeskSim(await gw.device('billing-02', 'pw-billing-02'));
  kiosk = new KioskSim(await gw.device('kiosk-01'));
  regDesk = new KioskSim(await gw.device('desk-01'));
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

const code = (reply: { body: unknown }) => (reply.body as { code?: string }).code;

test('a billing desk asks for its bill again, by id or reference: open, then paid with the order and when', async () => {
  const created = await desk.createBill({ patientId: 'P-3001', reference: 'INV-Q1', items: sampleItems });
  const billId = (created.body as { billId: string }).billId;
  const open = await desk.billStatus({ reference: 'INV-Q1' }, { id: 'status-q1' });
  assert.is(open.type, 'bill.state', JSON.stringify(open.body));
  assert.equal(open.body, { billId, reference: 'INV-Q1', status: 'open', total: sampleTotal, currency: 'CNY', createdAt: (open.body as BillStateBody).createdAt });

  const paid = await kiosk.client.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
  const orderId = (paid.body as { orderId: string; status: string }).orderId;
  assert.is((paid.body as { status: string }).status, 'succeeded');

  const byId = (await desk.billStatus({ billId })).body as BillStateBody;
  assert.is(byId.status, 'paid');
  assert.is(byId.orderId, orderId);
  assert.ok(byId.paidAt && !Number.isNaN(Date.parse(byId.paidAt)), 'paidAt is a time');
  const again = await desk.billStatus({ reference: 'INV-Q1' }, { id: 'status-q1' });
  assert.is((again.body as BillStateBody).status, 'paid', 'a resend of the same request gets the state as it is now');
});

test('a billing desk sees only the bills it created, and only a billing desk may ask', async () => {
  const created = await desk.createBill({ patientId: 'P-3002', reference: 'INV-Q2', items: sampleItems });
  const billId = (created.body as { billId: string }).billId;
  assert.is(code(await otherDesk.billStatus({ billId })), 'BILL_NOT_FOUND', "another desk's bill is not found");
  assert.is(code(await otherDesk.billStatus({ reference: 'INV-Q2' })), 'BILL_NOT_FOUND');
  assert.is(code(await desk.billStatus({ billId: 'B20990101-none-000001' })), 'BILL_NOT_FOUND');
  assert.is(code(await kiosk.client.request('bill.status', { billId })), 'FORBIDDEN_TYPE');
  assert.is(code(await desk.billStatus({ billId, reference: 'INV-Q2' })), 'SCHEMA', 'one of billId or reference, not both');
  assert.is(code(await desk.billStatus({})), 'SCHEMA');
});

test('a kiosk that missed registration.booked learns the visit number again, wherever the patient booked', async () => {
  const booked = await regDesk.registerAndPay({ dept: 'TST', session: 'morning', date: DATE, patientId: 'P-3101' }, 'code', { bookedWaitMs: 5000 });
  assert.ok(booked.booked, JSON.stringify(booked.held.body));
  const held = await regDesk.register({ dept: 'TST', session: 'afternoon', date: DATE, patientId: 'P-3101' });
  const heldId = (held.body as { registrationId: string }).registrationId;

  const list = await kiosk.queryRegistrations({ patientId: 'P-3101' });
  assert.is(list.type, 'registration.list', JSON.stringify(list.body));
  const regs = (list.body as RegistrationListBody).registrations;
  assert.equal(regs.map((r) => r.registrationId), [booked.booked!.body.registrationId, heldId], 'oldest first');
  const [first, second] = regs as [RegistrationListBody['registrations'][number], RegistrationListBody['registrations'][number]];
  assert.equal([first.status, first.visitNo, first.dept, first.session, first.date, first.orderId], ['booked', booked.booked!.body.visitNo, 'TST', 'morning', DATE, booked.booked!.body.orderId]);
  assert.is(second.status, 'held');
  assert.ok(second.expiresAt, 'a hold says until when');
  assert.is(second.visitNo, undefined, 'no visit number before payment');

  assert.equal((await kiosk.queryRegistrations({ patientId: 'P-3101', date: '2020-01-01' })).body, { patientId: 'P-3101', registrations: [] });
  assert.equal((await kiosk.queryRegistrations({ patientId: 'P-NOBODY' })).body, { patientId: 'P-NOBODY', registrations: [] });
  await regDesk.cancelRegistration(heldId, 'P-3101');
  const after = (await regDesk.queryRegistrations({ patientId: 'P-3101', date: DATE })).body as RegistrationListBody;
  assert.is(after.registrations.find((r) => r.registrationId === heldId)!.status, 'released', 'the registration desk may ask too');
});

test('a query by patient is audited under patientId, which the query side masks', async () => {
  await kiosk.queryRegistrations({ patientId: 'P-7781' });
  await kiosk.queryBills('P-7782');
  const page = await api(gw, 'GET', '/v1/query/audit?limit=500', tokens(gw).read);
  const accepted = (page.json.items as Array<{ kind: string; event: Record<string, unknown> }>)
    .filter((e) => e.kind === 'gap.accepted' && (e.event.type === 'registration.query' || e.event.type === 'bill.query'))
    .map((e) => e.event);
  assert.ok(accepted.length >= 2, JSON.stringify(page.json).slice(0, 400));
  const text = JSON.stringify(accepted);
  assert.not.match(text, /P-778[12]/, 'no patient id in full');
  assert.ok(accepted.some((e) => e.patientId === 'P-7***'), text);
});

test('registration.query is for kiosks and registration desks only, and keeps to its schema and rate', async () => {
  assert.is(code(await desk.client.request('registration.query', { patientId: 'P-3101' })), 'FORBIDDEN_TYPE');
  assert.is(code(await kiosk.queryRegistrations({ patientId: 'P 3101' })), 'SCHEMA');
  // The example rules allow a burst of 20 a device; the 21st at once is refused.
  const answers = await Promise.all(Array.from({ length: 21 }, () => kiosk.queryRegistrations({ patientId: 'P-3101' })));
  assert.ok(answers.some((a) => code(a) === 'RATE_LIMIT'), 'the rate rule applies');
});

test('the simulators ask too: ferry sim billing-desk status and ferry sim registration query', async () => {
  const connect = ['--url', gw.mqttUrl, '--device', 'billing-03', '--password', 'pw-billing-03'];
  const created = await ferry(['sim', 'billing-desk', 'create-bill', '--patient', 'P-3201', '--reference', 'INV-CLI', '--item', 'LAB-001:Blood-test:1:3500', ...connect]);
  assert.is(created.code, 0, created.stderr);
  const state = await ferry(['sim', 'billing-desk', 'status', '--reference', 'INV-CLI', ...connect]);
  assert.is(state.code, 0, state.stderr);
  assert.match(state.stdout, /^bill B\S+ \(reference INV-CLI\): open, 35\.00 CNY$/m);
  const other = await ferry(['sim', 'billing-desk', 'status', '--reference', 'INV-Q1', ...connect]);
  assert.is(other.code, 1, "another desk's reference is not found");
  assert.match(other.stderr, /BILL_NOT_FOUND/);

  const listed = await ferry(['sim', 'registration', 'query', '--patient', 'P-3101', '--url', gw.mqttUrl, '--device', 'kiosk-02']);
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /TST \S+ morning, booked, visit number \d+/);
});

test('ferry sim receiver report --taken names the visit numbers the window holds, and the kiosk skips them', async () => {
  const report = await ferry(['sim', 'receiver', 'report', '--dept', 'TAK', '--date', DATE, '--session', 'morning:5:2', '--taken', 'morning:1,3',
    '--url', gw.mqttUrl, '--device', 'receiver-01']);
  assert.is(report.code, 0, report.stderr);
  const numbers: number[] = [];
  for (const patientId of ['P-3301', 'P-3302']) {
    const outcome = await kiosk.registerAndPay({ dept: 'TAK', session: 'morning', date: DATE, patientId }, 'code', { bookedWaitMs: 5000 });
    assert.ok(outcome.booked, JSON.stringify(outcome.held.body));
    numbers.push(outcome.booked!.body.visitNo);
  }
  assert.equal(numbers, [2, 4], 'never 1 or 3, which the window gave');
  const wrong = await ferry(['sim', 'receiver', 'report', '--dept', 'TAK', '--session', 'morning:5:2', '--taken', 'evening:1', '--url', gw.mqttUrl]);
  assert.is(wrong.code, 2, 'a --taken for a session not reported is a usage error');
});

test.run();
