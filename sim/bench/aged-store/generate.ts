// A store as a large hospital's gateway leaves it after months: every day's bills paid
// at kiosks, registrations booked and paid, patient messages dispatched and taken, with
// the audit chain and the indexes the gateway writes for them. Written in bulk (large
// unsynced LevelDB batches, the store closed) rather than through the gateway's
// transactions, which would take an hour at the full size: the records, their keys
// (the modules' own key functions), their fields and the audit events are the ones the
// gateway's handlers write for the same traffic, each in its final state (what a
// transaction leaves once the payment is done). Idempotency records are written only for
// the days their retention keeps, as a daily retention run would have left them;
// outbox messages are all acknowledged, so none is left.
import { pathToFileURL } from 'node:url';
import { openLevel } from '../../../runtime/inner/store/open-level.js';
import { nextEntryText, type AuditEvent, type AuditHead, EMPTY_HEAD } from '../../../runtime/inner/store/audit.js';
import { auditKey, auditOfKey, auditedOrderOf } from '../../../runtime/inner/store/keys.js';
import { key } from '../../../runtime/inner/store/keyspace.js';
import { billKey, patientIndexKey, referenceKey, type Bill } from '../../../runtime/inner/billing/bills.js';
import { orderKey, ordersOfKey, type Order } from '../../../runtime/inner/payments/order.js';
import { regKey, regsOfKey, type Registration } from '../../../runtime/inner/registration/registrations.js';
import { poolKey, visitNoKey, type SlotPool } from '../../../runtime/inner/registration/pools.js';
import { byDeptKey, counterKey, dispatchKey, type DispatchRecord } from '../../../runtime/inner/dispatch/records.js';
import { idempotencyKey, type IdempotencyRecord } from '../../../runtime/inner/gap/handler.js';
import { indexMarkerKey } from '../../../runtime/inner/management/indexes.js';
import { CURRENT_FORMAT, FORMAT_KEY } from '../../../runtime/inner/store/format.js';
import { utcDayOf } from '../../../runtime/common/hospital-day.js';

export interface AgedStoreShape {
  days: number; // days of traffic, ending the day before `endMs`
  paymentsPerDay: number;
  endMs: number; // the generated days end here (midnight UTC)
  idempotencyDays: number; // idempotency records are kept for the last this many days
}

export interface AgedStoreFacts {
  payments: number;
  bills: number;
  registrations: number;
  dispatches: number;
  auditEntries: number;
  keys: number;
  // Ones to look up afterwards: a patient with several payments, an order, a day.
  samplePatient: string;
  sampleOrder: string;
  sampleDay: string; // YYYY-MM-DD (UTC day; the bench's hospital day is UTC too)
}

const TAG = 'bnch';
export const DAY_MS = 86_400_000;
// Three in ten payments are registration fees, the rest bills; one dispatch per three payments.
const REGISTRATION_SHARE = 0.3;
const DISPATCH_PER_PAYMENT = 0.3;
const DEPTS = ['cardio', 'derm', 'ent', 'gastro', 'neuro', 'ortho', 'peds', 'resp'];
const KIOSKS = 40;
const DESKS = 12;
const BATCH_OPS = 20_000;
// Patients come back: five payments per patient over the store's days.
const PATIENTS_PER_PAYMENT = 0.2;

type Op = { type: 'put'; key: string; value: string };

const pad = (n: number, w = 6) => String(n).padStart(w, '0');

// A small deterministic generator: the same flags give the same store.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function generateAgedStore(dataDir: string, shape: AgedStoreShape): Promise<AgedStoreFacts> {
  const db = await openLevel(dataDir, true);
  const random = rng(20261202);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const patients = Math.max(10, Math.round(shape.days * shape.paymentsPerDay * PATIENTS_PER_PAYMENT));
  let ops: Op[] = [];
  let head: AuditHead = EMPTY_HEAD;
  const facts: AgedStoreFacts = { payments: 0, bills: 0, registrations: 0, dispatches: 0, auditEntries: 0, keys: 0, samplePatient: 'P-000001', sampleOrder: '', sampleDay: '' };
  const dispatchSeq = new Map<string, number>();
  const put = async (k: string, v: unknown) => {
    ops.push({ type: 'put', key: k, value: JSON.stringify(v) });
    if (ops.length >= BATCH_OPS) await flush();
  };
  const putText = async (k: string, text: string) => {
    ops.push({ type: 'put', key: k, value: text });
    if (ops.length >= BATCH_OPS) await flush();
  };
  const flush = async () => {
    if (ops.length === 0) return;
    facts.keys += ops.length;
    await db.batch(ops, { sync: false, valueEncoding: 'utf8' });
    ops = [];
  };
  const audit = async (event: AuditEvent, at: Date) => {
    const { entry, text } = nextEntryText(head, event, at);
    head = { seq: entry.seq, hash: entry.hash };
    await putText(auditKey(entry.seq), text);
    const orderId = auditedOrderOf(entry.event);
    if (orderId !== undefined) await put(auditOfKey(orderId, entry.seq), entry.seq);
    facts.auditEntries += 1;
  };
  const idem = async (keep: boolean, device: string, requestId: string, type: string, at: Date, rest: Partial<IdempotencyRecord>) => {
    if (keep) await put(idempotencyKey(device, requestId), { hash: 'f'.repeat(64), type, ...rest, at: at.toISOString() } satisfies IdempotencyRecord);
  };
  try {
    await put(key('meta', 'instance'), TAG);
    // A store of the current format, as the gateway stamps a new one (no migration).
    await put(FORMAT_KEY, CURRENT_FORMAT);
    // Written with every record, as the gateway does: complete from the start.
    await put(indexMarkerKey('ordersOf'), true);
    await put(indexMarkerKey('auditOf'), true);
    const firstDayMs = shape.endMs - shape.days * DAY_MS;
    for (let d = 0; d < shape.days; d++) {
      const dayMs = firstDayMs + d * DAY_MS;
      const day = utcDayOf(dayMs);
      const ymd = day.replaceAll('-', '');
      const keepIdem = d >= shape.days - shape.idempotencyDays;
      const seq = { B: 0, P: 0, R: 0, D: 0, M: 0 };
      const pools = new Map<string, SlotPool>();
      for (let i = 0; i < shape.paymentsPerDay; i++) {
        // Opening hours 08:30-17:30 in Beijing (00:30-09:30 UTC): the same date in UTC and in
        // the hospital's day, as ids carry the UTC day.
        const t = dayMs + 1_800_000 + Math.floor((i / shape.paymentsPerDay) * 9 * 3_600_000);
        const at = (ms: number) => new Date(t + ms);
        const patientId = `P-${pad(1 + Math.floor(random() * patients))}`;
        const kiosk = `kiosk-${pad(1 + Math.floor(random() * KIOSKS), 2)}`;
        const orderId = `P${ymd}-${TAG}-${pad(++seq.P)}`;
        const method = random() < 0.7 ? 'code' as const : 'qr' as const;
        const payReq = `pay-${ymd}-${i}`;
        let pays: { billId: string } | { registrationId: string };
        let amount: number;
        let description: string;
        let booked: { registrationId: string; visitNo: number; dept: string; date: string; session: string } | undefined;
        if (random() >= REGISTRATION_SHARE) {
          const desk = `desk-${pad(1 + Math.floor(random() * DESKS), 2)}`;
          const billId = `B${ymd}-${TAG}-${pad(++seq.B)}`;
          const items = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, n) => ({ code: `ITEM-${n}${Math.floor(random() * 900)}`, name: 'Examination', quantity: 1, unitPrice: 500 + Math.floor(random() * 30_000) }));
          amount = items.reduce((s, it) => s + it.quantity * it.unitPrice, 0);
          const reference = `INV-${ymd}-${i}`;
          const bill: Bill = { billId, reference, patientId, items, total: amount, currency: 'CNY', status: 'paid', createdBy: desk, createdAt: at(0).toISOString(), orderId, paidAt: at(4000).toISOString() };
          await put(billKey(billId), bill);
          await put(patientIndexKey(patientId, billId), billId);
          await put(referenceKey(desk, reference), billId);
          const billReq = `bill-${ymd}-${i}`;
          await idem(keepIdem, desk, billReq, 'bill.create', at(0), { answer: { type: 'bill.created', body: { billId, reference, total: amount, currency: 'CNY' } } });
          await audit({ kind: 'bill.created', billId, reference, total: amount, items: items.length, device: desk }, at(0));
          await audit({ kind: 'gap.accepted', device: desk, type: 'bill.create', id: billReq }, at(0));
          pays = { billId };
          description = `Hospital bill ${billId}`;
          facts.bills += 1;
        } else {
          const dept = pick(DEPTS);
          const session = random() < 0.6 ? 'morning' : 'afternoon';
          const registrationId = `R${ymd}-${TAG}-${pad(++seq.R)}`;
          const poolId = `${dept}/${session}`;
          const pool = pools.get(poolId) ?? { dept, date: day, session, capacity: 10_000, booked: 0, window: 0, held: 0, closed: false, version: 0, visitSeq: 0, overCapacity: false };
          pool.booked += 1;
          pool.visitSeq += 1;
          pools.set(poolId, pool);
          amount = 1500;
          const regReq = `reg-${ymd}-${i}`;
          const reg: Registration = {
            registrationId, dept, date: day, session, level: 'regular', fee: amount, currency: 'CNY', patientId, device: kiosk, status: 'booked',
            expiresAt: at(300_000).toISOString(), graceUntil: at(304_000).toISOString(), orderId, visitNo: pool.visitSeq, createdAt: at(-60_000).toISOString(), updatedAt: at(4000).toISOString(),
          };
          await put(regKey(registrationId), reg);
          await put(regsOfKey(patientId, registrationId), registrationId);
          await put(visitNoKey(dept, day, session, pool.visitSeq), registrationId);
          await idem(keepIdem, kiosk, regReq, 'registration.request', at(-60_000), { answer: { type: 'registration.held', body: { registrationId, fee: amount } } });
          await audit({ kind: 'registration.held', registrationId, dept, date: day, session, device: kiosk }, at(-60_000));
          await audit({ kind: 'gap.accepted', device: kiosk, type: 'registration.request', id: regReq, patientId }, at(-60_000));
          pays = { registrationId };
          booked = { registrationId, visitNo: pool.visitSeq, dept, date: day, session };
          description = `Registration fee ${registrationId}`;
          facts.registrations += 1;
        }
        const order: Order = {
          orderId, device: kiosk, requestId: payReq, ...pays, amount, currency: 'CNY', method, description,
          status: 'succeeded', createdAt: at(1000).toISOString(), updatedAt: at(4000).toISOString(),
        };
        await put(orderKey(orderId), order);
        await put(ordersOfKey(patientId, orderId), orderId);
        await idem(keepIdem, kiosk, payReq, 'payment.request', at(1000), { ref: orderId });
        await audit({ kind: 'payment.accepted', orderId, ...pays, amount, method, device: kiosk }, at(1000));
        await audit({ kind: 'gap.accepted', device: kiosk, type: 'payment.request', id: payReq, ref: orderId }, at(1000));
        if (method === 'qr') await audit({ kind: 'payment.state', orderId, method, from: 'accepted', to: 'pending', source: 'relay' }, at(1500));
        await audit({ kind: 'payment.state', orderId, method, from: method === 'qr' ? 'pending' : 'accepted', to: 'succeeded', source: 'relay' }, at(4000));
        seq.M += 1; // the message that told the desk or the kiosk, acknowledged since
        if (booked) await audit({ kind: 'registration.booked', ...booked }, at(4000));
        facts.payments += 1;
        if (facts.sampleOrder === '' && d === Math.floor(shape.days / 2)) {
          facts.sampleOrder = orderId;
          facts.samplePatient = patientId;
          facts.sampleDay = day;
        }
        if (random() < DISPATCH_PER_PAYMENT) {
          const dept = pick(DEPTS);
          const n = (dispatchSeq.get(dept) ?? 0) + 1;
          dispatchSeq.set(dept, n);
          const dispatchId = `D${ymd}-${TAG}-${pad(++seq.D)}`;
          const infoReq = `info-${ymd}-${i}`;
          const record: DispatchRecord = {
            dispatchId, dept, seq: n, priority: 'normal', routedBy: 'triage', rule: 'chest-pain', patientId, symptoms: 'cough for three days, mild fever',
            kiosk, requestId: infoReq, status: 'acked', createdAt: at(2000).toISOString(), deliveredAt: at(2100).toISOString(), ackedAt: at(60_000).toISOString(), ackedBy: `ws-${dept}`,
          };
          await put(dispatchKey(dispatchId), record);
          await put(byDeptKey(dept, n), dispatchId);
          await idem(keepIdem, kiosk, infoReq, 'patient.info', at(2000), { ref: dispatchId });
          await audit({ kind: 'dispatch.queued', dispatchId, dept, seq: n, priority: 'normal', routedBy: 'triage', device: kiosk }, at(2000));
          await audit({ kind: 'gap.accepted', device: kiosk, type: 'patient.info', id: infoReq, ref: dispatchId }, at(2000));
          await audit({ kind: 'dispatch.acked', dispatchId, dept, seq: n, device: `ws-${dept}` }, at(60_000));
          await audit({ kind: 'gap.accepted', device: `ws-${dept}`, type: 'dispatch.ack', id: `ack-${ymd}-${i}` }, at(60_000));
          facts.dispatches += 1;
        }
      }
      for (const pool of pools.values()) await put(poolKey(pool.dept, pool.date, pool.session), pool);
      for (const [letter, n] of Object.entries(seq)) if (n > 0) await put(key('meta', 'seq', letter, ymd), n);
    }
    for (const [dept, n] of dispatchSeq) await put(counterKey(dept), { lastSeq: n, open: 0 });
    await flush();
    if (facts.sampleDay === '') facts.sampleDay = utcDayOf(firstDayMs);
    return facts;
  } finally {
    await db.close();
  }
}

// Run as a child of the bench (node generate.js DIR SHAPE-JSON), so that the process that
// then starts the inner side on the store has none of the generator's garbage in its heap.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, shape] = process.argv.slice(2);
  const facts = await generateAgedStore(dir!, JSON.parse(shape!) as AgedStoreShape);
  process.stdout.write(`${JSON.stringify(facts)}\n`);
}
