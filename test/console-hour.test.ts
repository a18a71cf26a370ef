// The console's last hour is the gateway's: a gateway on a ManualClock lives through an
// hour of payments, a few refusals, a receiver's report, a message waiting for a
// department and an outage of the outer side; a page opened only then draws that hour.
// Its screenshot is the one in the README (test-artifacts/console.png).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../runtime/common/clock.js';
import { HospitalDay } from '../runtime/common/hospital-day.js';
import type { Reply } from '../devices/protocol.js';
import type { DeviceClient } from '../devices/client.js';
import { CONSOLE_HISTORY_LIMITS } from '../runtime/inner/management/console/history.js';
import { startTestGateway, sampleItems, sampleTotal, type TestGateway } from './helpers/gateway.js';
import { managementUrl, tokens } from './helpers/management.js';
import { artifactPath, launchBrowser, type TestBrowser } from './helpers/browser.js';

const HOUR_MS = 3_600_000;
// The clock moves in small steps with real time between them, so that both sides'
// channel heartbeats (on this clock) are heard before the silence limit.
const STEP_MS = 2_000;

const clock = new ManualClock(Date.UTC(2026, 11, 2, 1, 0, 0)); // 09:00 in the hospital
let gw: TestGateway;
let chromium: TestBrowser;
test.before(async () => {
  gw = await startTestGateway({ clock, qrDelayMs: 100 });
  chromium = await launchBrowser();
});
test.after(async () => {
  try {
    await chromium?.close();
  } finally {
    await gw?.close();
  }
});

const realPause = () => new Promise((r) => setTimeout(r, 1));
async function pass(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += STEP_MS) {
    await clock.advance(STEP_MS);
    await realPause();
  }
}

let references = 0;
async function bill(desk: DeviceClient): Promise<string> {
  const reply = await desk.request('bill.create', { patientId: `P-${8000 + references}`, reference: `INV-hour-${++references}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  assert.is(reply.type, 'bill.created', JSON.stringify(reply.body));
  return (reply.body as { billId: string }).billId;
}

// A wallet-code payment: final in its first answer while the outer side is there.
async function payByCode(desk: DeviceClient, kiosk: DeviceClient, authCode = '134567'): Promise<void> {
  const billId = await bill(desk);
  await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode });
}

// Scan-to-pay: pending with a QR code; the patient takes a few seconds to scan.
async function payByQr(desk: DeviceClient, kiosk: DeviceClient, scanMs: number): Promise<void> {
  const billId = await bill(desk);
  const first = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'qr' });
  const { orderId } = first.body as { orderId: string };
  const done = kiosk.waitFor((m: Reply) => m.type === 'payment.result' && (m.body as { orderId: string }).orderId === orderId, 15_000);
  await pass(scanMs);
  await done;
}

test('a console opened after an hour of the gateway draws that hour', async () => {
  const desk = await gw.device('billing-01');
  const kiosk = await gw.device('kiosk-01');
  const receiver = await gw.device('receiver-01');
  const today = new HospitalDay(gw.rules.gateway.timeZone).dayOf(clock.now());
  const applied = await receiver.request('slots.status', { dept: 'INT', date: today, version: 1, sessions: [{ session: 'morning', capacity: 40, booked: 12 }, { session: 'afternoon', capacity: 30, booked: 4 }] });
  assert.is((applied.body as { applied: boolean }).applied, true);
  // A message for a department with no workstation connected: it waits.
  await kiosk.request('patient.info', { symptoms: 'headache since this morning', dept: 'PED' });

  const steps = HOUR_MS / CONSOLE_HISTORY_LIMITS.everyMs;
  for (let i = 0; i < steps; i++) {
    // Busier mid-morning: 0 to 3 payments per 10 s, most by wallet code.
    const busy = Math.round(1.5 + 1.5 * Math.sin((i / steps) * Math.PI * 2));
    const outerAway = i >= 200 && i < 215;
    if (i === 200) await gw.stopOuter();
    if (i === 215) await gw.startOuter();
    if (outerAway) {
      // Accepted and kept in the journal: the kiosk is told when it is known.
      const billId = await bill(desk);
      const asked = kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
      await pass(gw.rules.gateway.limits.replyWaitMs + STEP_MS);
      await asked;
      await pass(CONSOLE_HISTORY_LIMITS.everyMs - gw.rules.gateway.limits.replyWaitMs - STEP_MS);
      continue;
    }
    for (let n = 0; n < busy; n++) await payByCode(desk, kiosk, i % 37 === 5 && n === 0 ? '120000' : '134567'); // a declined code now and then
    if (i % 12 === 3) {
      await payByQr(desk, kiosk, 4_000 + (i % 5) * 2_000);
      await pass(CONSOLE_HISTORY_LIMITS.everyMs - 4_000 - (i % 5) * 2_000);
    } else {
      await pass(CONSOLE_HISTORY_LIMITS.everyMs);
    }
    if (i % 50 === 7) await kiosk.request('bill.create', { patientId: 'P-9000', reference: `INV-kiosk-${i}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  }

  const page = await chromium.browser.newPage();
  try {
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(`${managementUrl(gw)}/`, { waitUntil: 'load' });
    await page.type('#token', tokens(gw).read);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#charts svg polyline', { timeout: 15_000 });
    // Every chart has a line across the hour: one point per 10 s, and this instant's.
    const drawn = await page.$$eval('#charts .chart', (charts) => charts.map((c) => ({
      title: (c as HTMLElement).dataset.chart,
      points: c.querySelector('polyline')?.getAttribute('points')?.split(' ').length ?? 0,
    })));
    const byTitle = Object.fromEntries(drawn.map((d) => [d.title, d.points]));
    assert.ok(byTitle['Payments per minute']! >= steps - 1, JSON.stringify(drawn));
    assert.ok(byTitle['Open orders']! >= steps - 1, JSON.stringify(drawn));
    assert.ok(byTitle['Refusals per minute']! >= steps - 1, JSON.stringify(drawn));
    assert.ok(byTitle['Payment server answer time (mean, ms)']! > 10, JSON.stringify(drawn));
    const dispatch = await page.$eval('#dispatch', (e) => (e as HTMLElement).innerText);
    assert.match(dispatch, /Paediatrics \(PED\)\s+1\s+0/, 'the waiting message, and no workstation listening');
    const slots = await page.$eval('#slots', (e) => (e as HTMLElement).innerText);
    assert.match(slots, /v1 from receiver-01/, "the receiver's report");
    // What must stand out: the outer side going away.
    await gw.stopOuter();
    await page.waitForFunction(() => /Outer side\s+AWAY/i.test((document.getElementById('status') as HTMLElement).innerText), { timeout: 15_000 });
    const path = artifactPath('console.png');
    await page.screenshot({ path, fullPage: true });
    console.log(`  screenshot: ${path}`);
    await gw.startOuter();
  } finally {
    await page.close();
  }
});

test.run();
