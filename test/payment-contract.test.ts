// The payment-server contract (docs/payment-server.openapi.yaml) cannot drift from the
// code: the real relay talks to the real simulator through a recording proxy, the
// simulator's notifications reach the real notification endpoint through another, and
// every request and answer seen is checked against the document's operation, headers
// and schemas. A status the simulator never produces is injected by the proxy to see
// that the relay does what the document says it does.
import { HospitalDay, TIME_ZONE_DEFAULT } from '../runtime/common/hospital-day.js';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../runtime/common/logger.js';
import { signRequest } from '../runtime/common/signature.js';
import { PlayedInnerSide } from './helpers/played-inner.js';
import { startOuter, type Outer } from '../runtime/outer/outer.js';
import { NOTIFY_PATH } from '../runtime/outer/notify/server.js';
import { PaymentServerSim } from '../sim/payment-server/server.js';
import type { Faults } from '../sim/payment-server/types.js';
import { loadContract, matches, METHODS, resolvePointer, type Operation } from './helpers/contract.js';
import { startRecordingProxy, type Exchange, type Injection, type RecordingProxy } from './helpers/recording-proxy.js';

const SECRET = 'contract-test-secret';
const WAIT_MS_MAX = 15_000;
const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const log = createLogger('test', process.env.FERRY_LOG_LEVEL ?? 'silent');
const contract = loadContract();
const RELAY_ACTIONS = new Set(['outcome', 'fail', 'reconcile', 'retry', 'repost', 'statement']);


interface World { sim: PaymentServerSim; inner: PlayedInnerSide; outer: Outer; pay: RecordingProxy; notify: RecordingProxy; dir: string }
let world: World | undefined;

interface SetUp { faults?: Partial<Faults>; timeoutMs?: number; simSecret?: string; qrDelayMs?: number; inject?: (ex: Exchange) => Injection; notifyAttempts?: number }

async function setUp(opts: SetUp = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-contract-'));
  const socketPath = path.join(dir, 'channel.sock');
  const sim = new PaymentServerSim();
  const { url: simUrl } = await sim.start({
    host: '127.0.0.1', port: 0, secret: opts.simSecret ?? SECRET, qrDelayMs: opts.qrDelayMs ?? 50, faults: opts.faults ?? {},
    notifyRetry: { attemptsMax: opts.notifyAttempts ?? 60, baseMs: 50, maxMs: 400 },
  });
  const pay = await startRecordingProxy(() => simUrl, opts.inject);
  const inner = new PlayedInnerSide(socketPath, log);
  await inner.listen();
  const outer = await startOuter({
    socketPath,
    payment: { url: pay.url, secret: SECRET, timeoutMs: opts.timeoutMs ?? 2_000 },
    notify: { host: '127.0.0.1', port: 0, toleranceSec: 300 },
    log,
    // The breaker is not under test here: a high threshold keeps its cool-down out of the way.
    tuning: { retryBaseMs: 20, retryMaxMs: 100, pendingPollBaseMs: 30, pendingPollMaxMs: 60, breakerFailureThreshold: 1_000, breakerCoolDownMs: 300, notifyAckWaitMs: 1_000 },
  });
  const notify = await startRecordingProxy(() => outer.notifyUrl);
  sim.setNotifyUrl(notify.url + NOTIFY_PATH);
  world = { sim, inner, outer, pay, notify, dir };
  await waitFor(() => inner.connection?.isReady === true && outer.status().connected, 'the outer side connects');
  return world;
}

test.after.each(async () => {
  if (!world) return;
  const w = world;
  world = undefined;
  await w.outer.close();
  await w.inner.close();
  await w.sim.stop();
  await w.pay.close();
  await w.notify.close();
  fs.rmSync(w.dir, { recursive: true, force: true });
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const idle = (w: World) => () => w.outer.status().inFlight === 0;

// Checks one recorded exchange against the document and returns "METHOD template status"
// (status "none" when no answer came), or throws naming what does not conform.
function conform(ex: Exchange, secret = SECRET): string {
  const where = `${ex.method} ${ex.path}`;
  const op = contract.find(ex.method, ex.path);
  assert.ok(op, `${where} is an operation of the contract`);
  checkHeaders(op, ex, where, secret);
  const requestSchema = contract.bodySchema(op.op.requestBody);
  if (requestSchema) {
    assert.is(ex.headers['content-type'], 'application/json', `${where}: content type`);
    const errors = contract.check(requestSchema, JSON.parse(ex.body));
    // A body the document calls malformed (a test sends one on purpose) must be refused.
    if (errors.length > 0 && !ex.injected) assert.is(ex.status, 400, `${where}: a body the document refuses (${errors.join('; ')}) is answered 400`);
  } else {
    assert.is(ex.body, '', `${where} has no body`);
  }
  if (ex.status === undefined) return `${op.method} ${op.template} none`;
  const response = contract.response(op, ex.status);
  assert.ok(response, `${where}: status ${ex.status} is declared`);
  const answerSchema = contract.bodySchema(response.value);
  if (answerSchema) {
    const answer = JSON.parse(ex.answer!);
    noErrors(contract.check(answerSchema, answer), `${where} answer ${ex.status}`);
    if (!ex.injected) noErrors(undeclared(answerSchema, answer, ''), `${where} answer ${ex.status} names only declared fields`);
    const codes = response.value['x-ferry-error-codes'] as string[] | undefined;
    if (codes) assert.ok(codes.includes(answer.error), `${where}: ${ex.status} ${answer.error} is one of ${codes.join(', ')}`);
  }
  return `${op.method} ${op.template} ${ex.status}`;
}

function checkHeaders(op: Operation, ex: Exchange, where: string, secret: string): void {
  const schemes = contract.doc.components.securitySchemes as Record<string, any>;
  const requirements = (op.op.security ?? contract.doc.security) as Array<Record<string, string[]>>;
  const values: Record<string, string> = {};
  for (const name of Object.keys(requirements[0]!)) {
    const scheme = schemes[name];
    const value = ex.headers[scheme.name.toLowerCase()];
    assert.type(value, 'string', `${where}: header ${scheme.name}`);
    noErrors(contract.check(scheme['x-ferry-schema'], value), `${where} header ${scheme.name}`);
    values[scheme.name] = value as string;
  }
  const signature = schemes.ferrySignature;
  const text = (signature['x-ferry-signed-text'] as string)
    .replace('{timestamp}', values['X-Ferry-Timestamp']!).replace('{nonce}', values['X-Ferry-Nonce']!)
    .replace('{METHOD}', ex.method).replace('{path}', ex.path).replace('{body}', ex.body);
  const expected = createHmac('sha256', secret).update(text, 'utf8').digest('hex');
  assert.is(values['X-Ferry-Signature'], expected, `${where}: signed as the document says`);
  const skew = Math.abs(Date.now() / 1000 - Number(values['X-Ferry-Timestamp']));
  assert.ok(skew <= signature['x-ferry-tolerance-seconds'], `${where}: timestamp within the tolerance`);
  for (const p of (op.op.parameters ?? []) as Array<Record<string, any>>) {
    const param = (p.$ref ? resolvePointer(contract.doc, p.$ref) : p) as Record<string, any>;
    if (param.in === 'header') {
      const value = ex.headers[param.name.toLowerCase()];
      if (param.required) assert.type(value, 'string', `${where}: header ${param.name}`);
      if (value !== undefined) noErrors(contract.check(param.schema, value), `${where} header ${param.name}`);
    } else if (param.in === 'path') {
      const value = pathParam(op.template, ex.path, param.name);
      noErrors(contract.check(param.schema, value), `${where} path parameter ${param.name}`);
    }
  }
  if (op.template === '/v1/payments') assert.is(ex.headers['idempotency-key'], JSON.parse(ex.body).orderId, `${where}: the key is the order id`);
  if (op.template === '/v1/refunds') assert.is(ex.headers['idempotency-key'], JSON.parse(ex.body).refundId, `${where}: the key is the refund id`);
}

function pathParam(template: string, concrete: string, name: string): string {
  const t = template.split('/');
  const c = concrete.split('/');
  return decodeURIComponent(c[t.indexOf(`{${name}}`)]!);
}

// Fields of an answer that its schema does not name (allowed, but the simulator is the
// reference server: whatever it sends, the document should say).
function undeclared(schema: Record<string, any>, value: unknown, at: string): string[] {
  const s = (schema.$ref ? resolvePointer(contract.doc, schema.$ref) : schema) as Record<string, any>;
  const out: string[] = [];
  if (Array.isArray(value) && s.items) value.forEach((v, i) => out.push(...undeclared(s.items, v, `${at}/${i}`)));
  else if (value !== null && typeof value === 'object' && s.properties) {
    for (const [k, v] of Object.entries(value)) {
      if (!(k in s.properties)) out.push(`${at}/${k} is not declared`);
      else out.push(...undeclared(s.properties[k], v, `${at}/${k}`));
    }
  }
  return out;
}

function noErrors(errors: string[], what: string): void {
  assert.equal(errors, [], what);
}

function conformAll(w: World, secret = SECRET): Set<string> {
  return new Set([...w.pay.exchanges, ...w.notify.exchanges].map((ex) => conform(ex, secret)));
}

function includesAll(seen: Set<string>, expected: string[]): void {
  for (const e of expected) assert.ok(seen.has(e), `seen ${e} (saw ${[...seen].sort().join('; ')})`);
}

// The simulator bills by the hospital's day, in its default zone.
const today = () => new HospitalDay(TIME_ZONE_DEFAULT).dayOf(Date.now());

test('payments keep to the contract: succeeded, declined, pending then notified, refused with 400, conflicting with 409', async () => {
  const w = await setUp({ qrDelayMs: 200 }); // long enough for the relay to poll the pending order
  w.inner.order('c-ok');
  w.inner.order('c-declined', { authCode: '555550000' });
  w.inner.order('c-qr', { method: 'qr', authCode: undefined });
  w.inner.order('c-nocode', { authCode: undefined }); // the channel allows it; the server refuses it
  await waitFor(() => ['c-ok', 'c-declined', 'c-nocode'].every((id) => w.inner.final(id) !== undefined), 'final outcomes');
  await waitFor(() => w.sim.notifications().some((d) => d.delivered) && idle(w)(), 'the scan-to-pay is notified and settled');
  assert.is(w.inner.final('c-nocode')!.reason, 'refused: INVALID');
  w.inner.order('c-ok', { amount: 1300 });
  await waitFor(() => w.inner.outcomes('c-ok').some((o) => o.status === 'unknown'), 'the conflict is reported unknown');
  await waitFor(idle(w), 'the relay is done');
  includesAll(conformAll(w), [
    'POST /v1/payments 200', 'POST /v1/payments 400', 'POST /v1/payments 409',
    'GET /v1/payments/{orderId} 200', 'POST /v1/notifications 200',
  ]);
});

test('a lost answer is queried and an order the server never saw is posted again, keeping to the contract', async () => {
  const w = await setUp({ timeoutMs: 300, faults: { timeoutAfterCharge: 1, holdMs: 600 } });
  w.inner.order('c-lost');
  await waitFor(() => w.inner.final('c-lost') !== undefined, 'the lost answer is resolved');
  await waitFor(() => w.pay.exchanges.every((ex) => ex.status !== undefined), 'the held answer reached the proxy');
  await w.sim.setFaults({ down: true });
  w.inner.order('c-down');
  await waitFor(() => w.pay.exchanges.some((ex) => ex.method === 'GET' && ex.path.endsWith('/c-down')), 'a query while down');
  await w.sim.setFaults({ down: false });
  await waitFor(() => w.inner.final('c-down') !== undefined && idle(w)(), 'the order is paid once back');
  assert.is(w.sim.chargesFor('c-down'), 1);
  includesAll(conformAll(w), ['POST /v1/payments none', 'GET /v1/payments/{orderId} 200', 'GET /v1/payments/{orderId} 404', 'POST /v1/payments 200']);
});

test('server errors of every operation keep to the contract', async () => {
  const w = await setUp();
  w.inner.order('c-paid');
  await waitFor(() => w.inner.final('c-paid') !== undefined, 'paid');
  await w.sim.setFaults({ errorRate: 1 });
  w.inner.order('c-err');
  w.inner.refund('r-err', 'c-paid', 100);
  w.inner.send({ k: 'statement.request', requestId: 'st-err', date: today() });
  await waitFor(() => w.inner.records.some((r) => r.k === 'statement.failed'), 'the statement fails');
  await waitFor(() => w.pay.exchanges.filter((ex) => ex.path === '/v1/payments').length >= 2 && w.pay.exchanges.filter((ex) => ex.path === '/v1/refunds').length >= 2, 'retries');
  await w.sim.setFaults({ errorRate: 0 });
  await waitFor(() => w.inner.final('c-err') !== undefined && w.inner.refundOutcomes('r-err').length > 0 && idle(w)(), 'both end');
  includesAll(conformAll(w), ['POST /v1/payments 500', 'POST /v1/refunds 500', 'GET /v1/statements/{date} 500', 'POST /v1/payments 200', 'POST /v1/refunds 200']);
});

test("refunds and the day's statement keep to the contract", async () => {
  const w = await setUp();
  w.inner.order('c-paid', { amount: 1000 });
  w.inner.order('c-qr-open', { method: 'qr', authCode: undefined, amount: 500 });
  await waitFor(() => w.inner.final('c-paid') !== undefined, 'paid');
  w.inner.refund('r-ok', 'c-paid', 600);
  await waitFor(() => w.inner.refundOutcomes('r-ok').length > 0, 'first refund');
  w.inner.refund('r-over', 'c-paid', 600);
  w.inner.refund('r-nowhere', 'c-never', 100);
  await waitFor(() => w.inner.refundOutcomes('r-over').length > 0 && w.inner.refundOutcomes('r-nowhere').length > 0, 'refunds answered');
  w.inner.refund('r-ok', 'c-paid', 500);
  await waitFor(() => w.inner.refundOutcomes('r-ok').length > 1, 'the reused refund id is answered');
  assert.equal(w.inner.refundOutcomes('r-ok').map((o) => o.status), ['succeeded', 'failed']);
  assert.is(w.inner.refundOutcomes('r-over')[0]!.reason, 'exceeds_paid');
  w.sim.setStatementFaults({ extraLines: 1 });
  w.inner.send({ k: 'statement.request', requestId: 'st-1', date: today() });
  await waitFor(() => w.inner.records.some((r) => r.k === 'statement.part' && r.last), 'the statement arrives');
  await waitFor(idle(w), 'the relay is done');
  const statement = JSON.parse(w.pay.exchanges.find((ex) => ex.path.startsWith('/v1/statements/'))!.answer!);
  assert.ok(statement.payments.length >= 3 && statement.refunds.length >= 2, 'a statement with lines of both kinds');
  includesAll(conformAll(w), ['POST /v1/refunds 200', 'POST /v1/refunds 404', 'POST /v1/refunds 409', 'GET /v1/statements/{date} 200']);
});

test('a payment server that refuses the signature keeps to the contract, and every attempt is signed anew', async () => {
  const w = await setUp({ simSecret: 'another-secret' });
  w.inner.order('c-401');
  w.inner.send({ k: 'statement.request', requestId: 'st-401', date: today() });
  await waitFor(() => w.pay.exchanges.filter((ex) => ex.path === '/v1/payments').length >= 3, 'retries');
  await waitFor(() => w.inner.records.some((r) => r.k === 'statement.failed'), 'the statement fails');
  const nonces = w.pay.exchanges.filter((ex) => ex.path === '/v1/payments').map((ex) => ex.headers['x-ferry-nonce']);
  assert.is(new Set(nonces).size, nonces.length, 'a fresh nonce for every attempt');
  includesAll(conformAll(w), ['POST /v1/payments 401', 'GET /v1/statements/{date} 401']);
});

test('a payment server that refuses an attempt as a replay keeps to the contract, and the order still settles', async () => {
  const w = await setUp({ faults: { refuseAsReplayed: 2 } });
  w.inner.order('c-replay');
  await waitFor(() => w.inner.final('c-replay') !== undefined, 'settled after the replay refusals');
  const refused = w.pay.exchanges.filter((ex) => ex.path === '/v1/payments' && ex.status === 401);
  assert.is(refused.length, 2);
  assert.ok(refused.every((ex) => JSON.parse(ex.answer!).error === 'REPLAYED'));
  includesAll(conformAll(w), ['POST /v1/payments 401', 'POST /v1/payments 200']);
});

test("the notification endpoint's answers to the simulator keep to the contract: accepted, duplicate, refused, unavailable", async () => {
  const w = await setUp({ faults: { duplicateNotifications: true }, qrDelayMs: 50, notifyAttempts: 2 });
  w.inner.order('c-n1', { method: 'qr', authCode: undefined });
  await waitFor(() => w.sim.notifications().length === 2 && w.sim.notifications().every((d) => d.finished), 'both deliveries');
  await w.sim.setFaults({ duplicateNotifications: false });
  w.inner.notificationAnswer = 'refuse';
  w.inner.order('c-n2', { method: 'qr', authCode: undefined });
  await waitFor(() => w.sim.notifications().length === 3 && w.sim.notifications()[2]!.finished, 'a refused delivery');
  w.sim.setQrDelayMs(400);
  w.inner.order('c-n3', { method: 'qr', authCode: undefined });
  await waitFor(() => w.inner.outcomes('c-n3').length > 0, 'pending');
  await w.inner.close();
  await waitFor(() => w.sim.notifications()[3]?.finished === true, 'an unavailable delivery');
  includesAll(conformAll(w), ['POST /v1/notifications 200', 'POST /v1/notifications 400', 'POST /v1/notifications 503']);
});

function post(url: string, method: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test("the notification endpoint's refusals keep to the contract: signature, replay, shape, amount, path, method, size", async () => {
  const w = await setUp();
  w.inner.order('c-amt');
  await waitFor(() => w.inner.final('c-amt') !== undefined, 'paid');
  const op = contract.find('POST', NOTIFY_PATH)!;
  const url = w.outer.notifyUrl;
  const signed = (body: string, p = NOTIFY_PATH, method = 'POST') => signRequest(SECRET, method, p, body);
  const body = (over: object = {}) => JSON.stringify({ notifyId: 'ntf-c-1', orderId: 'c-other', status: 'succeeded', amount: 100, currency: 'CNY', ...over });
  const good = signed(body());
  const results: Array<[string, { status: number; text: string }]> = [['accepted', await post(url, 'POST', body(), good)]];
  results.push(['replayed', await post(url, 'POST', body(), good)]);
  results.push(['sent again', await post(url, 'POST', body(), signed(body()))]);
  results.push(['other content', await post(url, 'POST', body({ amount: 101 }), signed(body({ amount: 101 })))]);
  results.push(['bad signature', await post(url, 'POST', body(), signRequest('wrong', 'POST', NOTIFY_PATH, body()))]);
  results.push(['extra field', await post(url, 'POST', body({ notifyId: 'ntf-c-2', patient: 'x' }), signed(body({ notifyId: 'ntf-c-2', patient: 'x' })))]);
  results.push(['amount', await post(url, 'POST', body({ notifyId: 'ntf-c-3', orderId: 'c-amt', amount: 1 }), signed(body({ notifyId: 'ntf-c-3', orderId: 'c-amt', amount: 1 })))]);
  results.push(['query string', await post(`${url}?x=1`, 'POST', body(), signed(body(), `${NOTIFY_PATH}?x=1`))]);
  results.push(['GET', await post(url, 'GET', '', signed('', NOTIFY_PATH, 'GET'))]);
  const big = 'x'.repeat(5 * 1024);
  results.push(['too large', await post(url, 'POST', big, signed(big))]);
  const statuses = results.map(([what, r]) => {
    const response = contract.response(op, r.status);
    assert.ok(response && response.key === String(r.status), `${what}: ${r.status} is declared`);
    const answer = JSON.parse(r.text);
    noErrors(contract.check(contract.bodySchema(response.value)!, answer), `${what} answer`);
    const codes = response.value['x-ferry-error-codes'] as string[] | undefined;
    if (codes) assert.ok(codes.includes(answer.error), `${what}: ${answer.error} in ${codes.join(', ')}`);
    return r.status;
  });
  assert.equal(statuses, [200, 401, 200, 409, 401, 400, 400, 404, 405, 413]);
  assert.equal(JSON.parse(results[2]![1].text), { ok: true, duplicate: true });
});

// Statuses to try for a response key: a range and `default` stand for several.
const samplesOf = (key: string): number[] => (key === 'default' ? [418, 202] : key.endsWith('XX') ? [Number(key[0]) * 100 + 3] : [Number(key)]);

// Which order, refund or statement an exchange is about.
function subjectOf(ex: Exchange): string {
  if (ex.path === '/v1/payments') return JSON.parse(ex.body).orderId;
  if (ex.path === '/v1/refunds') return JSON.parse(ex.body).refundId;
  if (ex.path.startsWith('/v1/payments/')) return decodeURIComponent(ex.path.slice('/v1/payments/'.length));
  return ex.path;
}

test('for every status it declares, the relay does what the document says', async () => {
  // Each case is one order, refund or statement: its calls are answered by the proxy
  // from a plan (an injected status, a dropped connection, or forwarded to the
  // simulator), and what the relay does next is named in the document's terms.
  const plans = new Map<string, Injection[]>();
  const calls = new Map<string, number>();
  const w = await setUp({
    inject: (ex) => {
      const subject = subjectOf(ex);
      const n = calls.get(subject) ?? 0;
      calls.set(subject, n + 1);
      return plans.get(subject)?.[n];
    },
  });
  const of = (subject: string) => w.pay.exchanges.filter((ex) => subjectOf(ex) === subject);
  const acked = (id: string) => w.inner.records.some((r) => r.k === 'order.ack' && r.orderId === id);
  const ops = new Map(contract.operations.filter((o) => !o.webhook).map((o) => [o.template, o.op.responses]));
  const observed: string[] = [];
  const expected: string[] = [];
  const injected = (status: number) => ({ status, body: { error: 'INJECTED' } });
  let n = 0;

  w.inner.order('a-paid', { amount: 100_000 });
  await waitFor(() => w.inner.final('a-paid') !== undefined, 'a paid order to refund from');
  for (const [key, response] of Object.entries<Record<string, any>>(ops.get('/v1/payments')!)) {
    for (const status of key === '200' ? [] : samplesOf(key)) {
      const id = `a-post-${n++}`;
      plans.set(id, [injected(status)]);
      w.inner.order(id);
      await waitFor(() => acked(id) && idle(w)(), `${id} ends`);
      const last = w.inner.outcomes(id).at(-1)!;
      const next = of(id)[1];
      const action = next?.method === 'POST' ? 'retry' : next ? `then ${next.method}` : last.status === 'failed' && last.reason === 'refused: INJECTED' ? 'fail' : last.status === 'unknown' ? 'reconcile' : `ended ${last.status}`;
      observed.push(`POST /v1/payments ${status}: ${action}`);
      expected.push(`POST /v1/payments ${status}: ${response['x-ferry-relay-action']}`);
    }
  }
  for (const [key, response] of Object.entries<Record<string, any>>(ops.get('/v1/payments/{orderId}')!)) {
    for (const status of key === '200' ? [] : samplesOf(key)) {
      const id = `a-get-${n++}`;
      plans.set(id, ['drop', injected(status)]); // a lost POST puts the relay to querying
      w.inner.order(id);
      await waitFor(() => acked(id) && idle(w)(), `${id} ends`);
      assert.equal(of(id).slice(0, 2).map((ex) => ex.method), ['POST', 'GET'], id);
      const next = of(id)[2];
      const action = next?.method === 'POST' ? 'repost' : next?.method === 'GET' ? 'retry' : w.inner.outcomes(id).at(-1)!.status === 'unknown' ? 'reconcile' : 'ended';
      observed.push(`GET /v1/payments/{orderId} ${status}: ${action}`);
      expected.push(`GET /v1/payments/{orderId} ${status}: ${response['x-ferry-relay-action']}`);
    }
  }
  for (const [key, response] of Object.entries<Record<string, any>>(ops.get('/v1/refunds')!)) {
    for (const status of key === '200' ? [] : samplesOf(key)) {
      const id = `a-ref-${n++}`;
      plans.set(id, [injected(status)]);
      w.inner.refund(id, 'a-paid', 100);
      await waitFor(() => w.inner.refundOutcomes(id).length > 0, `${id} ends`);
      const outcome = w.inner.refundOutcomes(id)[0]!;
      const action = of(id).length > 1 ? 'retry' : outcome.status === 'failed' && outcome.reason === 'refused: INJECTED' ? 'fail' : `ended ${outcome.status}`;
      observed.push(`POST /v1/refunds ${status}: ${action}`);
      expected.push(`POST /v1/refunds ${status}: ${response['x-ferry-relay-action']}`);
    }
  }
  let day = 1;
  for (const [key, response] of Object.entries<Record<string, any>>(ops.get('/v1/statements/{date}')!)) {
    for (const status of key === '200' ? [200] : [...samplesOf(key), 401, 503]) {
      const date = `2026-01-${String(day++).padStart(2, '0')}`;
      if (status !== 200) plans.set(`/v1/statements/${date}`, [injected(status)]);
      w.inner.send({ k: 'statement.request', requestId: `st-${date}`, date });
      await waitFor(() => w.inner.records.some((r) => (r.k === 'statement.part' || r.k === 'statement.failed') && r.requestId === `st-${date}`), `${date} ends`);
      const action = w.inner.records.some((r) => r.k === 'statement.part' && r.requestId === `st-${date}`) ? 'statement' : 'fail';
      observed.push(`GET /v1/statements/{date} ${status}: ${action}`);
      expected.push(`GET /v1/statements/{date} ${status}: ${response['x-ferry-relay-action']}`);
    }
  }
  assert.equal(observed, expected);
  conformAll(w);
});

test('every path and method the relay, the simulator and the notification endpoint use is in the document, and the reverse', () => {
  const client = fs.readFileSync(path.join(PROJECT_DIR, 'runtime/outer/relay/payment-client.ts'), 'utf8');
  const relayUses = [...client.matchAll(/this\.call\('(GET|POST)', [`'"]([^`'"]+)/g)].map(([, m, p]) => `${m} ${p!.replace(/\$\{[^}]+\}/g, 'x')}`);
  assert.ok(relayUses.length >= 4, 'the relay calls were found');
  for (const use of relayUses) {
    const [m, p] = use.split(' ');
    assert.ok(contract.find(m!, p!), `the relay's ${use} is in the document`);
  }
  const sim = fs.readFileSync(path.join(PROJECT_DIR, 'sim/payment-server/server.ts'), 'utf8');
  const route = sim.slice(sim.indexOf('private route('), sim.indexOf('private pay('));
  const literal = [...route.matchAll(/method === '(GET|POST)' && path === '([^']+)'/g)].map(([, m, p]) => ({ m: m!, test: (s: string) => s === p }));
  const patterns = [...route.matchAll(/method === '(GET|POST)' && (\w+)\)/g)].map(([, m, v]) => {
    const regexVar = new RegExp(`const ${route.match(new RegExp(`const ${v} = (\\w+)\\.exec`))![1]} = /(.+)/;`);
    return { m: m!, test: (s: string) => new RegExp(sim.match(regexVar)![1]!).test(s) };
  });
  const simRoutes = [...literal, ...patterns];
  assert.ok(simRoutes.length >= 4, 'the simulator routes were found');
  const samples: Record<string, string> = { orderId: 'ord-1', date: '2026-01-31' };
  const sample = (o: Operation) => o.template.replace(/\{(\w+)\}/g, (_, name: string) => samples[name]!);
  const paymentOps = contract.operations.filter((o) => !o.webhook);
  for (const r of simRoutes) assert.ok(paymentOps.some((o) => o.method === r.m && r.test(sample(o))), 'a simulator route is in the document');
  for (const o of paymentOps) {
    assert.ok(simRoutes.some((r) => r.m === o.method && r.test(sample(o))), `the simulator serves ${o.method} ${o.template}`);
    assert.ok(relayUses.some((u) => u.startsWith(`${o.method} `) && matches(o.template, u.slice(o.method.length + 1))), `the relay uses ${o.method} ${o.template}`);
  }
  const webhooks = contract.operations.filter((o) => o.webhook);
  assert.equal(webhooks.map((o) => `${o.method} ${o.template}`), [`POST ${NOTIFY_PATH}`]);
});

test('the document is OpenAPI 3.1: every $ref resolves, every operation has responses with a relay action, every schema compiles', () => {
  const { doc } = contract;
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.type(doc.info?.title, 'string');
  assert.type(doc.info?.version, 'string');
  const refs: string[] = [];
  (function walk(v: unknown): void {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) k === '$ref' ? refs.push(x as string) : walk(x);
  })(doc);
  assert.ok(refs.length > 10);
  for (const ref of refs) assert.ok(resolvePointer(doc, ref) !== undefined, `${ref} resolves`);
  const ids = contract.operations.map((o) => o.op.operationId);
  assert.is(new Set(ids).size, ids.length, 'operation ids are unique');
  assert.is(contract.operations.length, 5);
  for (const o of contract.operations) {
    const where = `${o.method} ${o.template}`;
    const responses = Object.entries<Record<string, any>>(o.op.responses ?? {});
    assert.ok(responses.length > 0, `${where} has responses`);
    for (const [key, r] of responses) {
      assert.match(key, /^([1-5][0-9][0-9]|[1-5]XX|default)$/, `${where} ${key} is a status key`);
      assert.type(r.description, 'string', `${where} ${key} is described`);
      if (!o.webhook) assert.ok(RELAY_ACTIONS.has(r['x-ferry-relay-action']), `${where} ${key} names what the relay does`);
    }
    const params = ((o.op.parameters ?? []) as Array<Record<string, any>>).map((p) => (p.$ref ? resolvePointer(doc, p.$ref) : p) as Record<string, any>);
    const declared = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
    const inTemplate = [...o.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.equal(declared, inTemplate, `${where}: path parameters are declared`);
    for (const name of Object.keys((o.op.security ?? doc.security)[0])) assert.ok(doc.components.securitySchemes[name], `${name} is a security scheme`);
  }
  for (const item of Object.values<Record<string, any>>(doc.paths)) for (const k of Object.keys(item)) assert.ok((METHODS as readonly string[]).includes(k), `${k} is a method`);
  // Compiling a schema throws in strict mode on an unknown keyword or a broken $ref.
  for (const name of Object.keys(doc.components.schemas)) assert.type(contract.check({ $ref: `#/components/schemas/${name}` }, null), 'object', name);
});

test.run();
