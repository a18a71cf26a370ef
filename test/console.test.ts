// The web console, as a hospital engineer sees it in a real Chromium: signed in with the
// read token, it follows the gateway live (a kiosk coming online, a paid bill, a refusal)
// without a reload; a wrong token is told so; the page is served under a strict policy
// and its data is not served without a token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'puppeteer-core';
import { startTestGateway, sampleItems, sampleTotal, type TestGateway } from './helpers/gateway.js';
import { managementUrl, tokens } from './helpers/management.js';
import { artifactPath, launchBrowser, type TestBrowser } from './helpers/browser.js';

// How long the page may take to show what happened: a few 2 s polls.
const SEEN_WITHIN_MS = 15_000;

let gw: TestGateway;
let chromium: TestBrowser;
test.before(async () => {
  gw = await startTestGateway({ qrDelayMs: 150 });
  chromium = await launchBrowser();
});
test.after(async () => {
  try {
    await chromium?.close();
  } finally {
    await gw?.close();
  }
});

async function openConsole(): Promise<Page> {
  const page = await chromium.browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(String(err)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401/.test(m.text())) problems.push(m.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(`${managementUrl(gw)}/console`, { waitUntil: 'load' });
  return page;
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', token);
  await page.click('#signin-form button[type=submit]');
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => (e as HTMLElement).innerText);

async function seen(page: Page, selector: string, wanted: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + SEEN_WITHIN_MS;
  let last = '';
  while (Date.now() < deadline) {
    last = await text(page, selector).catch(() => '');
    if (wanted.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: ${wanted} not on the page within ${SEEN_WITHIN_MS} ms; ${selector} shows:\n${last}`);
}

test('the page is served without a token under a strict policy; its data needs the read token', async () => {
  const base = managementUrl(gw);
  const page = await fetch(`${base}/`);
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'no inline script');
  assert.is(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  assert.not.match(html, /<script>(?!<\/script>)/, 'no inline script in the page');
  assert.not.match(html, /https?:\/\//, 'nothing from another origin');
  const script = await fetch(`${base}/console/console.js`);
  assert.match(script.headers.get('content-type') ?? '', /javascript/);
  assert.match(await script.text(), /\/v1\/console/);

  const anonymous = await fetch(`${base}/v1/console`);
  assert.is(anonymous.status, 401);
  const data = await fetch(`${base}/v1/console`, { headers: { authorization: `Bearer ${tokens(gw).read}` } });
  assert.is(data.status, 200);
  assert.is(data.headers.get('cache-control'), 'no-store');
  const snapshot = await data.json() as { devices: unknown[]; history: { points: unknown[] } };
  assert.ok(snapshot.devices.length > 0);
});

test('a wrong token shows the sign-in error and no data', async () => {
  const page = await openConsole();
  try {
    await signIn(page, 'not-the-token');
    await page.waitForSelector('#signin-error', { visible: true, timeout: SEEN_WITHIN_MS });
    assert.match(await text(page, '#signin-error'), /did not accept that token/);
    assert.ok(await page.$eval('#console', (e) => (e as HTMLElement).hidden), 'the console stays hidden');
    assert.is(await page.evaluate(() => sessionStorage.getItem('ferry.console.token')), null, 'a refused token is not kept');
  } finally {
    await page.close();
  }
});

test('signed in, the console shows a kiosk come online, its paid bill and a refusal with its code, without a reload', async () => {
  const page = await openConsole();
  try {
    await signIn(page, tokens(gw).read);
    await page.waitForSelector('#console', { visible: true, timeout: SEEN_WITHIN_MS });
    await page.evaluate(() => { (window as unknown as { ferryMarker: string }).ferryMarker = 'still the same page'; });
    assert.match(await text(page, '#devices'), /kiosk-02\s+kiosk\s+.*\s+offline/, 'kiosk-02 listed, offline');
    const ordersBefore = await text(page, '#orders');

    // A kiosk connects, a bill is paid with it, and the kiosk tries what its role may not.
    const desk = await gw.device('billing-01');
    const kiosk = await gw.device('kiosk-02');
    await seen(page, '#devices', /kiosk-02\s+kiosk\s+.*\s+online/, 'the kiosk online');
    const bill = await desk.request('bill.create', { patientId: 'P-7001', reference: 'INV-console-1', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (bill.body as { billId: string }).billId;
    const paid = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
    const { orderId, status } = paid.body as { orderId: string; status: string };
    assert.is(status, 'succeeded');
    const refused = await kiosk.request('bill.create', { patientId: 'P-7002', reference: 'INV-console-2', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    assert.is((refused.body as { code: string }).code, 'FORBIDDEN_TYPE');

    const orders = await seen(page, '#orders', new RegExp(`${orderId}\\s+succeeded`), 'the paid order');
    assert.is.not(orders, ordersBefore);
    await seen(page, '#payments', /^1\s*\n\s*payments ended in the last minute/m, 'the payment counted');
    const refusals = await seen(page, '#refusals', /FORBIDDEN_TYPE\s+kiosk-02\s+kiosk\s+bill\.create/, 'the refusal with its code');
    assert.not.match(refusals, /P-7002/, 'no patient id in the refusals');
    assert.not.match(await page.content(), /P-700[12]/, 'no patient id anywhere on the page');
    await seen(page, '#status', /Outer side\s+connected/i, 'the outer side shown connected');
    await seen(page, '#status', /Audit chain\s+intact/i, 'the audit chain shown verified');
    await seen(page, '#status', /Payment breaker\s+closed/i, "the outer side's breaker, from its figures");
    await seen(page, '#payments', /\d+ ms\s*\n\s*payment server answer time/, "the payment server's answer time, from the outer side's figures");

    assert.is(await page.evaluate(() => (window as unknown as { ferryMarker?: string }).ferryMarker), 'still the same page', 'the page was not reloaded');
    assert.equal((page as Page & { problems?: string[] }).problems, [], 'no script errors');

    // The outer side going away is what must stand out.
    await gw.stopOuter();
    await seen(page, '#status', /Outer side\s+AWAY/i, 'the outer side shown away');
    const path = artifactPath('console-live.png');
    await page.screenshot({ path, fullPage: true });
    console.log(`  screenshot: ${path}`);
    await gw.startOuter();
    await seen(page, '#status', /Outer side\s+connected/i, 'the outer side back');
  } finally {
    await page.close();
  }
});

test.run();
