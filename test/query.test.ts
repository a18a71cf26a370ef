// The information store's query side: `ferry query` and GET /v1/query/{kind}
// on the management API, every kind and format, masking, tokens, paging.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { EXAMPLE_RULES, quietLog, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { TEST_STORE, openTestStore, removeStoreArtefacts, storeRulesArgs } from './helpers/store-backend.js';
import { HospitalDay } from '../runtime/common/hospital-day.js';
import { api, ferry, managementUrl, payBill, tokens } from './helpers/management.js';
import { COLUMNS, QUERY_KINDS } from '../runtime/inner/management/columns.js';
import { maskIdCard, maskPatientId, maskPhone, maskText } from '../runtime/inner/management/mask.js';
import { csvCell } from '../runtime/cli/query-format.js';
import { regsOfKey } from '../runtime/inner/registration/registrations.js';

let gw: TestGateway;
let paid: { billId: string; orderId: string };
const PATIENT = 'P-1234567';
const PHONE = '13812345678';
const ID_CARD = '110105199001011234';

test.before(async () => {
  gw = await startTestGateway();
  paid = await payBill(gw, PATIENT);
  // Registrations and dispatches as the registration and dispatch modules store them;
  // a dispatch's symptoms carry what a patient typed, a phone number included.
  const now = new Date().toISOString();
  await gw.inner.store.transact((tx) => {
    tx.put('reg!R20990101-test-000001', {
      registrationId: 'R20990101-test-000001', dept: 'CARD', date: now.slice(0, 10), session: 'am', level: 'normal', fee: 1500, currency: 'CNY',
      patientId: PATIENT, device: 'kiosk-01', status: 'booked', visitNo: 7, expiresAt: now, createdAt: now, updatedAt: now,
      contactPhone: PHONE, idCard: ID_CARD,
    });
    tx.put(regsOfKey(PATIENT, 'R20990101-test-000001'), 'R20990101-test-000001');
    tx.put('dispatch!D20990101-test-000001', {
      dispatchId: 'D20990101-test-000001', dept: 'CARD', seq: 1, priority: 'normal', routedBy: 'triage', patientId: PATIENT,
      symptoms: `chest pain since morning, call ${PHONE}, id ${ID_CARD}`, kiosk: 'kiosk-01', requestId: 'k1', status: 'queued', createdAt: now,
    });
    tx.audit({ kind: 'test.patient_event', patientId: PATIENT, orderId: paid.orderId });
  });
});
test.after(async () => {
  await gw.close();
});

const get = (route: string, token = tokens(gw).read) => api(gw, 'GET', route, token);
const hospitalToday = (g: TestGateway) => new HospitalDay(g.rules.gateway.timeZone).dayOf(Date.now());

// Every key and value of a stopped store, read through a read-only store.
async function storeContents(dataDir: string): Promise<Array<[string, unknown]>> {
  const store = await openTestStore(dataDir, quietLog, { readOnly: true });
  try {
    return await store.list('', { limit: 10_000 });
  } finally {
    await store.close();
  }
}

type Run = Awaited<ReturnType<typeof ferry>>;
const conn = () => ['--url', managementUrl(gw), '--token', tokens(gw).read];

test('a request without a token, with a wrong token, or with a token in another scheme is refused with 401', async () => {
  for (const token of [undefined, 'x'.repeat(40), tokens(gw).read.toUpperCase()]) {
    const { status, json } = await api(gw, 'GET', '/v1/query/payments', token);
    assert.is(status, 401);
    assert.is(json.error, 'UNAUTHORIZED');
  }
  const res = await fetch(`${managementUrl(gw)}/v1/query/payments`, { headers: { authorization: `Basic ${tokens(gw).read}` } });
  assert.is(res.status, 401);
  assert.is(res.headers.get('www-authenticate'), 'Bearer');
});

test('ferry query with a wrong token exits 1 and says 401', async () => {
  const { code, stderr } = await ferry(['query', 'bills', '--url', managementUrl(gw), '--token', 'y'.repeat(40)]);
  assert.is(code, 1);
  assert.match(stderr, /401 UNAUTHORIZED/);
});

test('every query kind answers in every format, with the patient id masked', async () => {
  for (const kind of QUERY_KINDS) {
    // The three formats at once: each child process is mostly start-up.
    const [jsonl, csv, table] = await Promise.all(['jsonl', 'csv', 'table'].map((format) => ferry(['query', kind, ...conn(), '--format', format]))) as [Run, Run, Run];
    for (const out of [jsonl, csv, table]) assert.is(out.code, 0, `${kind}: ${out.stderr}`);
    const rows = jsonl.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    if (kind !== 'refunds') assert.ok(rows.length > 0, `${kind} has rows`);
    assert.is(csv.stdout.split('\r\n')[0], COLUMNS[kind].join(','));
    assert.is(csv.stdout.split('\r\n').length, rows.length + 2, `${kind}: a CSV line per row`);
    if (rows.length > 0) assert.match(table.stdout.split('\n')[1]!, /^-+( +-+)*$/);
    for (const out of [jsonl.stdout, csv.stdout, table.stdout]) {
      assert.not.match(out, PATIENT, `${kind} shows no patient id`);
      assert.not.match(out, PHONE, `${kind} shows no phone number`);
      assert.not.match(out, ID_CARD, `${kind} shows no ID-card number`);
    }
  }
});

test('payments show the patient of their bill, masked, and are found by patient and by order', async () => {
  const byOrder = await get(`/v1/query/payments?order=${paid.orderId}`);
  assert.is(byOrder.status, 200);
  assert.is(byOrder.json.masked, true);
  assert.is(byOrder.json.items.length, 1);
  assert.is(byOrder.json.items[0].patientId, 'P-1***');
  assert.is(byOrder.json.items[0].billId, paid.billId);
  assert.is(byOrder.json.items[0].authCode, undefined, 'the wallet code is never shown');
  const byPatient = await get(`/v1/query/payments?patient=${PATIENT}`);
  assert.equal(byPatient.json.items.map((p: { orderId: string }) => p.orderId), [paid.orderId]);
  const otherDay = await get(`/v1/query/payments?date=2001-01-01`);
  assert.equal(otherDay.json.items, []);
});

test('registrations mask phone and ID-card fields; dispatches mask numbers inside what the patient typed', async () => {
  const reg = (await get(`/v1/query/registrations?patient=${PATIENT}`)).json.items[0];
  assert.is(reg.patientId, 'P-1***');
  assert.is(reg.contactPhone, undefined, 'only allowlisted fields are answered');
  const dispatch = (await get('/v1/query/dispatches')).json.items[0];
  assert.is(dispatch.patientId, 'P-1***');
  assert.is(dispatch.symptoms, 'chest pain since morning, call 138****5678, id 110105********1234');
  const audit = (await get(`/v1/query/audit?order=${paid.orderId}`)).json.items;
  const event = audit.find((a: { kind: string }) => a.kind === 'test.patient_event');
  assert.is(event.event.patientId, 'P-1***');
});

test('the admin token with unmask shows identifiers in full, and the look-up is audited; either alone keeps them masked', async () => {
  const { read, admin } = tokens(gw);
  const unmasked = await get(`/v1/query/dispatches?unmask=1`, admin);
  assert.is(unmasked.status, 200);
  assert.is(unmasked.json.masked, false);
  assert.is(unmasked.json.items[0].patientId, PATIENT);
  assert.match(unmasked.json.items[0].symptoms, PHONE);
  const adminMasked = await get('/v1/query/dispatches', admin);
  assert.is(adminMasked.json.items[0].patientId, 'P-1***');
  const readUnmask = await get('/v1/query/dispatches?unmask=1', read);
  assert.is(readUnmask.status, 403);
  const cli = await ferry(['query', 'bills', '--url', managementUrl(gw), '--token', admin, '--unmask', '--format', 'jsonl']);
  assert.is(cli.code, 0, cli.stderr);
  assert.is(JSON.parse(cli.stdout.split('\n')[0]!).patientId, PATIENT);
  const audit = await gw.inner.store.list<{ event: Record<string, unknown> }>('audit!', { reverse: true, limit: 20 });
  assert.ok(audit.some(([, e]) => e.event.kind === 'management.unmasked_query' && e.event.queryKind === 'dispatches'));
});

test('pages are bounded and the cursor walks every row once', async () => {
  for (let i = 0; i < 4; i++) await payBill(gw, `P-9${i}`);
  const all = (await get('/v1/query/bills?limit=500')).json.items.map((b: { billId: string }) => b.billId);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { json: { items: Array<{ billId: string }>; nextCursor: string | null } } = await get(`/v1/query/bills?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.json.items.length <= 2);
    seen.push(...page.json.items.map((b) => b.billId));
    cursor = page.json.nextCursor;
  } while (cursor);
  assert.equal(seen, all);
  assert.is(all.length, 5);
  assert.is((await get('/v1/query/bills?limit=501')).status, 400);
  assert.is((await get('/v1/query/payments?cursor=' + Buffer.from('bill!x').toString('base64url'))).status, 400);
});

test('the API is read-only: no other route or method, unknown parameters refused', async () => {
  assert.is((await api(gw, 'POST', '/v1/query/bills', tokens(gw).read)).status, 405);
  assert.is((await get('/v1/query/patients')).status, 404);
  assert.is((await get('/v1/query/bills?sql=1')).status, 400);
  assert.is((await get('/v1/query/bills?date=yesterday')).status, 400);
});

test('POST /v1/retention/run needs the admin token and reports what it pruned', async () => {
  assert.is((await api(gw, 'POST', '/v1/retention/run', tokens(gw).read)).status, 403);
  const { status, json } = await api(gw, 'POST', '/v1/retention/run', tokens(gw).admin);
  assert.is(status, 200);
  assert.equal(Object.keys(json.pruned).sort(), ['audit', 'bills', 'dispatches', 'idempotency', 'notifications', 'outbox', 'payments', 'refunds', 'registrations']);
  assert.is(json.pruned.bills, 0, 'nothing is old enough');
});

// ---- the masks and the CSV cell, alone

test('a payment at 07:00 hospital time is listed under that hospital day, by the API and by ferry query, not under the UTC day', async () => {
  // 2026-11-26 07:00 in Beijing (rules/gateway.yaml timeZone: Asia/Shanghai) is 2026-11-25 23:00 UTC.
  const at = new Date('2026-11-26T07:00:00+08:00');
  const early = await startTestGateway({ now: () => at });
  try {
    const { orderId } = await payBill(early, 'P-0700');
    const ids = async (date: string) => {
      const { status, json } = await api(early, 'GET', `/v1/query/payments?date=${date}`, tokens(early).read);
      assert.is(status, 200, JSON.stringify(json));
      return (json.items as { orderId: string }[]).map((i) => i.orderId);
    };
    assert.equal(await ids('2026-11-26'), [orderId]);
    assert.equal(await ids('2026-11-25'), []);
    const bills = await api(early, 'GET', '/v1/query/bills?date=2026-11-26', tokens(early).read);
    assert.is(bills.json.items.length, 1);
    const cli = await ferry(['query', 'payments', '--date', '2026-11-26', '--format', 'jsonl', '--url', managementUrl(early), '--token', tokens(early).read]);
    assert.is(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { orderId: string }).orderId), [orderId]);
    const audit = await api(early, 'GET', `/v1/query/audit?date=2026-11-26&order=${orderId}`, tokens(early).read);
    assert.ok(audit.json.items.length > 0, 'the payment\'s audit entries are of the hospital day too');
  } finally {
    await early.close();
  }
});

test('ferry query --data on a stopped gateway\'s store gives the same rows as the online query, masked, and writes nothing', async () => {
  const stopped = await startTestGateway();
  const { orderId } = await payBill(stopped, PATIENT);
  const dataDir = stopped.dataDir;
  try {
    const online = new Map<string, string>();
    const queries = [['payments'], ['bills'], ['audit', '--order', orderId], ['payments', '--date', hospitalToday(stopped)]];
    for (const q of queries) {
      for (const format of ['jsonl', 'csv', 'table']) {
        const out = await ferry(['query', ...q, '--format', format, '--url', managementUrl(stopped), '--token', tokens(stopped).read]);
        assert.is(out.code, 0, out.stderr);
        online.set(`${q.join(' ')} ${format}`, out.stdout);
      }
    }
    await stopped.close({ keepData: true });
    // The rules name the store: the example rules on LevelDB, a copy naming the database on PostgreSQL.
    const rulesArgs = TEST_STORE === 'postgres' ? await storeRulesArgs(dataDir) : ['--rules', EXAMPLE_RULES];
    const before = await storeContents(dataDir);
    for (const q of queries) {
      for (const format of ['jsonl', 'csv', 'table']) {
        const out = await ferry(['query', ...q, '--format', format, '--data', dataDir, ...rulesArgs]);
        assert.is(out.code, 0, out.stderr);
        assert.is(out.stdout, online.get(`${q.join(' ')} ${format}`), `${q.join(' ')} ${format}`);
        assert.not.match(out.stdout, PATIENT);
      }
    }
    assert.ok(online.get('payments jsonl')!.includes(orderId));
    // Unmasked offline reads show the patient, and are not written to the store's audit log.
    const unmasked = await ferry(['query', 'payments', '--format', 'jsonl', '--unmask', '--data', dataDir, ...rulesArgs]);
    assert.is(unmasked.code, 0, unmasked.stderr);
    assert.match(unmasked.stdout, PATIENT);
    assert.match(unmasked.stderr, /not audited/);
    assert.equal(await storeContents(dataDir), before, 'the store is as it was');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
    removeStoreArtefacts(dataDir);
  }
});

test('ferry query --data on the LevelDB store of a running gateway is refused with a clear message and exit 1', async () => {
  if (TEST_STORE === 'leveldb') {
    const out = await ferry(['query', 'payments', '--data', gw.dataDir]);
    assert.is(out.code, 1);
    assert.match(out.stderr, new RegExp(`${gw.dataDir} is in use by a running gateway; query it through the management API instead, or stop it first`));
    assert.is(out.stdout, '');
  }
  const none = await ferry(['query', 'payments', '--data', path.join(gw.dataDir, 'nothing-here')]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /holds no gateway store/);
  const mixed = await ferry(['query', 'payments', '--data', gw.dataDir, '--url', managementUrl(gw)]);
  assert.is(mixed.code, 2);
});

test('masks keep enough to tell rows apart and no more', () => {
  assert.is(maskPatientId('P-12345'), 'P-1***');
  assert.is(maskPatientId('P'), '***');
  assert.is(maskPhone('13812345678'), '138****5678');
  assert.is(maskIdCard('110105199001011234'), '110105********1234');
  assert.is(maskText('call 13812345678 or 110105199001011234'), 'call 138****5678 or 110105********1234');
  assert.is(maskText('order P20261126-kqzd-000001'), 'order P20261126-kqzd-000001');
});

test('a CSV cell that a spreadsheet would run as a formula is defused, and quotes are doubled', () => {
  assert.is(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.is(csvCell(7200), '7200');
  assert.is(csvCell({ a: 1 }), '"{""a"":1}"');
});

test.run();
