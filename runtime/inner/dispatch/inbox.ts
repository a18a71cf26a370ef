// A department's inbox in the store: a message is added in the same transaction that
// accepts the kiosk's patient.info, and leaves the open list in the same transaction
// that accepts the first dispatch.ack for it (invariant 4 of docs/design.md).
import type { DispatchMessageBody, PatientInfoBody } from '../../../devices/protocol.js';
import { assert, FerryError } from '../../common/errors.js';
import type { Store, Tx } from '../store/store.js';
import { nextId } from '../ids.js';
import { MAX_OPEN_PER_DEPT } from './limits.js';
import {
  byDeptKey, counterKey, dispatchKey, openKey, openPrefix,
  type DeptCounter, type DispatchRecord,
} from './records.js';
import type { Route } from './route.js';

export interface NewDispatch { body: PatientInfoBody; route: Route; kiosk: string; requestId: string; now: Date }

export async function enqueue(tx: Tx, d: NewDispatch): Promise<DispatchRecord> {
  const { dept } = d.route;
  const counter = (await tx.get<DeptCounter>(counterKey(dept))) ?? { lastSeq: 0, open: 0 };
  if (counter.open >= MAX_OPEN_PER_DEPT) {
    throw new FerryError('INBOX_FULL', `Department ${dept} has ${counter.open} messages no workstation has taken yet; try again later.`);
  }
  const seq = counter.lastSeq + 1;
  const record: DispatchRecord = {
    dispatchId: await nextId(tx, 'D', d.now),
    dept, seq,
    priority: d.route.priority,
    routedBy: d.route.routedBy,
    ...(d.route.rule !== undefined ? { rule: d.route.rule } : {}),
    ...(d.body.patientId !== undefined ? { patientId: d.body.patientId } : {}),
    ...(d.body.registrationId !== undefined ? { registrationId: d.body.registrationId } : {}),
    symptoms: d.body.symptoms,
    ...(d.body.vitals !== undefined ? { vitals: d.body.vitals } : {}),
    kiosk: d.kiosk,
    requestId: d.requestId,
    status: 'queued',
    createdAt: d.now.toISOString(),
  };
  assert(!(await tx.get(dispatchKey(record.dispatchId))), 'a new dispatch id is unused');
  tx.put(dispatchKey(record.dispatchId), record);
  tx.put(byDeptKey(dept, seq), record.dispatchId);
  tx.put(openKey(dept, seq), record.dispatchId);
  tx.put(counterKey(dept), { lastSeq: seq, open: counter.open + 1 } satisfies DeptCounter);
  return record;
}

export type AckOutcome = { record: DispatchRecord; first: boolean };

// The first ack takes the message for the department; a later one (another workstation,
// or the same one again) is told who took it. A message of another department is
// answered as unknown: a workstation learns nothing about other departments.
export async function acknowledge(tx: Tx, dispatchId: string, device: { id: string; dept?: string | undefined }, now: Date): Promise<AckOutcome> {
  const record = await tx.get<DispatchRecord>(dispatchKey(dispatchId));
  if (!record || record.dept !== device.dept) {
    throw new FerryError('DISPATCH_NOT_FOUND', `No message ${dispatchId} in the inbox of department ${device.dept ?? '(none)'}.`, '/body/dispatchId');
  }
  if (record.status === 'acked') return { record, first: false };
  const acked: DispatchRecord = { ...record, status: 'acked', ackedAt: now.toISOString(), ackedBy: device.id };
  tx.put(dispatchKey(dispatchId), acked);
  tx.del(openKey(record.dept, record.seq));
  const counter = await tx.get<DeptCounter>(counterKey(record.dept));
  assert(counter !== undefined && counter.open >= 1, 'an open message is counted in its department');
  tx.put(counterKey(record.dept), { lastSeq: counter.lastSeq, open: counter.open - 1 } satisfies DeptCounter);
  return { record: acked, first: true };
}

// Marks messages published while a workstation was listening; an acked one stays acked.
export async function markDelivered(store: Store, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await store.transact(async (tx) => {
    for (const id of ids) {
      const record = await tx.get<DispatchRecord>(dispatchKey(id));
      if (record?.status === 'queued') tx.put(dispatchKey(id), { ...record, status: 'delivered', deliveredAt: now.toISOString() } satisfies DispatchRecord);
    }
  });
}

// The department's unacknowledged messages, oldest first: at most `limit` of those
// that `wanted` picks by id (all of them by default).
export async function openMessages(store: Store, dept: string, limit: number, wanted: (dispatchId: string) => boolean = () => true): Promise<DispatchRecord[]> {
  const rows = await store.list<string>(openPrefix(dept), { limit: MAX_OPEN_PER_DEPT });
  const out: DispatchRecord[] = [];
  for (const [, id] of rows) {
    if (out.length >= limit) break;
    if (!wanted(id)) continue;
    const record = await store.get<DispatchRecord>(dispatchKey(id));
    if (record && record.status !== 'acked') out.push(record);
  }
  return out;
}

export function messageBody(r: DispatchRecord, redelivery: boolean): DispatchMessageBody {
  return {
    dispatchId: r.dispatchId, dept: r.dept, seq: r.seq, priority: r.priority, routedBy: r.routedBy,
    ...(r.rule !== undefined ? { rule: r.rule } : {}),
    symptoms: r.symptoms,
    ...(r.vitals !== undefined ? { vitals: r.vitals } : {}),
    ...(r.registrationId !== undefined ? { registrationId: r.registrationId } : {}),
    ...(r.patientId !== undefined ? { patientId: r.patientId } : {}),
    kiosk: r.kiosk, createdAt: r.createdAt, redelivery,
  };
}
