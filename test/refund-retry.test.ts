// A refund the payment server declines: the registration ends refund_failed with an
// alert in the log, and an operator retries it (`ferry refunds retry`, admin token,
// audited) under the same refund id until it is refunded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { createLogger } from '../runtime/common/logger.js';
import { startTestGateway, waitFor, type TestGateway } from './helpers/gateway.js';
import { api, ferry, managementUrl, tokens } from './helpers/management.js';
import { registrationRules, tomorrow } from './helpers/registration.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import type { Registration } from '../runtime/inner/registration/registrations.js';
import type { Refund } from '../runtime/inner/payments/refunds.js';

let gw: TestGateway;
let rulesDir: string;
let kiosk: KioskSim;
const lines: Array<Record<string, unknown>> = [];
const rawLines: string[] = [];
const DATE = tomorrow();
const PATIENT = 'P-77123';

test.before(async () => {
  ({ rulesDir } = registrationRules());
  const log = createLogger('inner', 'info', { write: (line: string) => { rawLines.push(line); lines.push(JSON.parse(line)); } });
  gw = await startTestGateway({ rulesDir, log });
  kiosk = new KioskSim(await gw.device('kiosk-01'));
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

const registration = async (id: string) => {
  await gw.inner.store.durable();
  return (await gw.inner.store.get<Registration>(`reg!${id}`))!;
};

async function bookedRegistration(patientId: string): Promise<string> {
  const outcome = await kiosk.registerAndPay({ dept: 'TST', session: 'morning', date: DATE, patientId }, 'code', { bookedWaitMs: 5000 });
  assert.ok(outcome.booked, JSON.stringify(outcome.held.body));
  return outcome.booked!.body.registrationId;
}

test('a declined refund raises an alert, and an operator retries it with the admin token until it is refunded', async () => {
  const registrationId = await bookedRegistration(PATIENT);
  await gw.sim.setFaults({ declineRefunds: 1 });
  const cancelled = await kiosk.cancelRegistration(registrationId, PATIENT);
  const refundId = (cancelled.body as { refundId: string }).refundId;
  assert.ok(refundId, JSON.stringify(cancelled.body));
  await waitFor(async () => (await registration(registrationId)).status === 'refund_failed', 5000, 'the declined refund');

  const alert = lines.findIndex((l) => l.level === 'error' && l.registrationId === registrationId && l.refundId === refundId);
  assert.ok(alert >= 0, `an error-level line names the registration and the refund: ${rawLines.filter((l) => l.includes('"level":"error"')).join('')}`);
  assert.not.ok(rawLines[alert]!.includes(PATIENT) || rawLines[alert]!.includes('patientId'), `no patient data in ${rawLines[alert]}`);

  // Without the admin token the retry is refused, and nothing changes.
  const url = managementUrl(gw);
  assert.is((await api(gw, 'POST', `/v1/refunds/${registrationId}/retry`)).status, 401);
  const asReader = await ferry(['refunds', 'retry', registrationId, '--url', url, '--token', tokens(gw).read]);
  assert.is(asReader.code, 1, asReader.stderr);
  assert.match(asReader.stderr, /FORBIDDEN/);
  assert.is((await registration(registrationId)).status, 'refund_failed');

  // The payment server accepts refunds again: the retry ends refunded, under the same id.
  const retried = await ferry(['refunds', 'retry', registrationId, '--url', url, '--token', tokens(gw).admin]);
  assert.is(retried.code, 0, retried.stderr);
  assert.match(retried.stdout, new RegExp(`refund ${refundId} of ${registrationId} sent again`));
  await waitFor(async () => (await registration(registrationId)).status === 'refunded', 5000, 'the retried refund');
  assert.is((await registration(registrationId)).refundId, refundId, 'the same refund id');
  const refund = await gw.inner.store.get<Refund>(`refund!${refundId}`);
  assert.is(refund!.status, 'succeeded');
  const atServer = gw.sim.refunds().filter((f) => f.refundId === refundId);
  assert.equal(atServer.map((f) => f.status), ['succeeded'], 'one refund at the payment server, made once');

  const audit = await gw.inner.store.list<{ event: { kind: string; refundId?: string; registrationId?: string } }>('audit!', { reverse: true, limit: 50 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'refund.retried' && e.event.refundId === refundId && e.event.registrationId === registrationId), 'the retry is audited');
  const verified = await api(gw, 'GET', '/v1/audit/verify', tokens(gw).read);
  assert.is(verified.json.ok, true, 'the audit chain is intact');
});

test('a retry of a registration that is not refund_failed is refused and names its status', async () => {
  const registrationId = await bookedRegistration('P-77124');
  const url = managementUrl(gw);
  const refused = await ferry(['refunds', 'retry', registrationId, '--url', url, '--token', tokens(gw).admin]);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /NOT_REFUND_FAILED/);
  assert.match(refused.stderr, /is booked, not refund_failed/);
  assert.is((await registration(registrationId)).status, 'booked', 'nothing changed');
  const unknown = await api(gw, 'POST', '/v1/refunds/R20990101-none-000001/retry', tokens(gw).admin);
  assert.is(unknown.status, 404);
  const usage = await ferry(['refunds', 'retry']);
  assert.is(usage.code, 2);
});

test.run();
