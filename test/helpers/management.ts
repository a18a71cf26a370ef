// For the query, retention and reconciliation suites: the management API over real HTTP,
// the `ferry` CLI as a child process, and bills paid through real devices.
import { execFile } from 'node:child_process';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { PROJECT_DIR, sampleItems, sampleTotal, type TestGateway } from './gateway.js';

export const FERRY = path.join(PROJECT_DIR, 'bin/ferry.js');

export function managementUrl(gw: TestGateway): string {
  const url = gw.inner.query.managementUrl();
  assert.ok(url, 'the management API is listening');
  return url;
}

export const tokens = (gw: TestGateway) => ({ read: gw.rules.gateway.management!.token, admin: gw.rules.gateway.management!.adminToken });

// A call that gets no answer fails after API_WAIT_MS instead of hanging the suite.
const API_WAIT_MS = 30_000;

export async function api(gw: TestGateway, method: 'GET' | 'POST', route: string, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${managementUrl(gw)}${route}`, {
    method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(API_WAIT_MS),
  });
  return { status: res.status, json: await res.json() };
}

export function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FERRY, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

let references = 0;
const devices = new WeakMap<TestGateway, Map<string, ReturnType<TestGateway['device']>>>();

// One connection per device id: a second one with the same client id would take over.
function device(gw: TestGateway, id: string): ReturnType<TestGateway['device']> {
  let map = devices.get(gw);
  if (!map) devices.set(gw, (map = new Map()));
  if (!map.has(id)) map.set(id, gw.device(id));
  return map.get(id)!;
}

// A bill created at the billing desk and paid at a kiosk with a wallet code: one order.
export async function payBill(gw: TestGateway, patientId: string): Promise<{ billId: string; orderId: string }> {
  const desk = await device(gw, 'billing-01');
  const created = await desk.request('bill.create', { patientId, reference: `Q-${process.pid}-${++references}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
  assert.is(created.type, 'bill.created', JSON.stringify(created.body));
  const billId = (created.body as { billId: string }).billId;
  const kiosk = await device(gw, 'kiosk-01');
  const paid = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '134567' });
  assert.is((paid.body as { status: string }).status, 'succeeded', JSON.stringify(paid.body));
  return { billId, orderId: (paid.body as { orderId: string }).orderId };
}
