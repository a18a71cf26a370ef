// What dispatch keeps in the store, and under which keys. The query side reads
// `dispatch!{dispatchId}` records: keep their fields.
//
//   dispatch!{dispatchId}            the message and its state (DispatchRecord)
//   dispatchByDept!{dept}!{seq}      every message of a department, in order -> dispatchId
//   dispatchOpen!{dept}!{seq}        those not yet acknowledged -> dispatchId
//   dispatchDept!{dept}              the department's last seq and open count (DeptCounter)
import type { DispatchPriority, DispatchRoute, Vitals } from '../../../devices/protocol.js';
import { assert } from '../../common/errors.js';
import { key, prefixOf } from '../store/keyspace.js';

export type DispatchStatus = 'queued' | 'delivered' | 'acked';

export interface DispatchRecord {
  dispatchId: string;
  dept: string;
  seq: number;
  priority: DispatchPriority;
  routedBy: DispatchRoute;
  rule?: string; // the triage rule that matched
  patientId?: string;
  registrationId?: string;
  symptoms: string;
  vitals?: Vitals;
  kiosk: string; // the device that sent it
  requestId: string;
  status: DispatchStatus;
  createdAt: string;
  deliveredAt?: string; // first publish while a workstation of the department was subscribed
  ackedAt?: string;
  ackedBy?: string;
}

export interface DeptCounter { lastSeq: number; open: number }

const SEQ_DIGITS = 12;

export const dispatchKey = (dispatchId: string) => key('dispatch', dispatchId);
export const byDeptPrefix = (dept: string) => prefixOf('dispatchByDept', dept);
export const openPrefix = (dept: string) => prefixOf('dispatchOpen', dept);
export const counterKey = (dept: string) => key('dispatchDept', dept);

export function seqText(seq: number): string {
  assert(Number.isSafeInteger(seq), 'a dispatch seq is a safe integer');
  assert(seq >= 1, 'a dispatch seq starts at 1');
  return String(seq).padStart(SEQ_DIGITS, '0');
}

export const byDeptKey = (dept: string, seq: number) => byDeptPrefix(dept) + seqText(seq);
export const openKey = (dept: string, seq: number) => openPrefix(dept) + seqText(seq);
