// The device protocol on the medical side: topics and the message envelope.
// Shared by the gateway's inner side, the device client and the simulators.

export const PROTOCOL_VERSION = 1;

export const topics = {
  up: (deviceId: string, type: string) => `dev/${deviceId}/up/${type}`,
  down: (deviceId: string) => `dev/${deviceId}/down`,
  slots: (dept: string, date: string) => `slots/${dept}/${date}`,
  deptInbox: (dept: string) => `dept/${dept}/inbox`,
};

// dev/{id}/up/{type}: exactly four levels, the type being the last.
export function parseUpTopic(topic: string): { deviceId: string; type: string } | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'dev' || parts[2] !== 'up') return null;
  const [, deviceId, , type] = parts as [string, string, string, string];
  if (deviceId === '' || type === '') return null;
  return { deviceId, type };
}

export interface Request<B = Record<string, unknown>> {
  v: 1;
  id: string;
  type: string;
  ts: string;
  body: B;
}

export interface Reply<B = Record<string, unknown>> {
  v: 1;
  id: string;
  re?: string;
  type: string;
  ts?: string;
  body: B;
}

export interface ErrorBody {
  code: string;
  message: string;
  path?: string;
}

// Bodies of the message types of the foundation (the rules hold their schemas).
export interface BillItem { code: string; name: string; quantity: number; unitPrice: number }
export interface BillCreateBody { patientId: string; reference: string; items: BillItem[]; total: number; currency: 'CNY' }
export interface BillCreatedBody { billId: string; reference: string; total: number; currency: 'CNY'; status: 'open' }
export interface BillQueryBody { patientId: string }
export interface BillSummary { billId: string; total: number; currency: 'CNY'; items: BillItem[]; createdAt: string; status: 'open' | 'paying' }
export interface BillListBody { patientId: string; bills: BillSummary[] }
// A payment pays either a bill or a registration hold.
export interface PaymentRequestBody { billId?: string; registrationId?: string; amount: number; currency: 'CNY'; method: 'code' | 'qr'; authCode?: string }
export interface PaymentResultBody {
  orderId: string;
  billId?: string;
  registrationId?: string;
  amount: number;
  currency: 'CNY';
  status: 'pending' | 'succeeded' | 'failed';
  qrCode?: string;
  reason?: string;
}
// bill.status (billing desk): one of its own bills, by bill id or by its reference.
export interface BillStatusBody { billId?: string; reference?: string }
export interface BillStateBody {
  billId: string; reference: string; status: 'open' | 'paying' | 'paid'; total: number; currency: 'CNY'; createdAt: string;
  orderId?: string; paidAt?: string; // when paid
}
export interface BillPaidBody { billId: string; reference: string; orderId: string; amount: number; currency: 'CNY'; paidAt: string }

// Patient information and its dispatch to departments (docs/dispatch.md).
export type DispatchPriority = 'urgent' | 'high' | 'normal' | 'low';
export type DispatchRoute = 'booking' | 'dept' | 'triage' | 'default';
export interface Vitals {
  temperatureC?: number;
  pulseBpm?: number;
  systolicMmHg?: number;
  diastolicMmHg?: number;
  respiratoryRate?: number;
  spo2Percent?: number;
  weightKg?: number;
}
export interface PatientInfoBody { symptoms: string; vitals?: Vitals; registrationId?: string; dept?: string; patientId?: string }
// The kiosk's answer to patient.info: where the message went.
export interface DispatchQueuedBody { dispatchId: string; dept: string; seq: number; priority: DispatchPriority; routedBy: DispatchRoute; rule?: string }
// What a department's workstations receive (on dept/{dept}/inbox, or on their own down
// topic when it is redelivered to one workstation that has just connected).
export interface DispatchMessageBody {
  dispatchId: string;
  dept: string;
  seq: number; // per department, from 1, in the order the gateway accepted the messages
  priority: DispatchPriority;
  routedBy: DispatchRoute;
  rule?: string;
  symptoms: string;
  vitals?: Vitals;
  registrationId?: string;
  patientId?: string;
  kiosk: string;
  createdAt: string;
  redelivery: boolean; // sent before; a workstation that has it already drops it
}
export interface DispatchAckBody { dispatchId: string }
// `acked`: this request took the message for the department; `duplicate`: it had been
// taken before (by ackedBy), so the workstation drops it.
export interface DispatchAckedBody { dispatchId: string; status: 'acked' | 'duplicate'; ackedBy: string; ackedAt: string }
// On dept/{dept}/inbox when a workstation has taken a message: the others drop it.
export interface DispatchTakenBody { dispatchId: string; dept: string; seq: number; ackedBy: string }

// Registration.
export interface RegistrationRequestBody { dept: string; session: string; date?: string; level?: string; patientId: string }
export interface RegistrationHeldBody {
  registrationId: string; dept: string; date: string; session: string; level: string;
  fee: number; currency: 'CNY'; expiresAt: string;
}
export interface RegistrationCancelBody { registrationId: string; patientId: string }
export interface RegistrationCancelledBody { registrationId: string; status: string; refundId?: string }
export interface RegistrationBookedBody { registrationId: string; orderId: string; dept: string; date: string; session: string; visitNo: number }
// registration.query (kiosk, registration desk): a patient's registrations, newest last.
export interface RegistrationQueryBody { patientId: string; date?: string }
export interface RegistrationSummary {
  registrationId: string; dept: string; date: string; session: string; level: string; fee: number; currency: 'CNY';
  status: string; visitNo?: number; orderId?: string; refundId?: string; expiresAt?: string;
}
export interface RegistrationListBody { patientId: string; registrations: RegistrationSummary[] }
export interface SlotsStatusBody {
  dept: string;
  date: string;
  version: number;
  sessions: Array<{ session: string; capacity: number; booked: number; takenNumbers?: number[]; closed?: boolean }>;
}
export interface SlotsAppliedBody { dept: string; date: string; version: number; applied: boolean; reason?: string }
// The retained snapshot on slots/{dept}/{date}.
export interface SlotsSnapshot {
  dept: string;
  date: string;
  seq: number;
  sessions: Array<{ session: string; capacity: number; booked: number; held: number; remaining: number; closed: boolean; overCapacity: boolean }>;
  ts: string;
}
