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
export interface PaymentRequestBody { billId: string; amount: number; currency: 'CNY'; method: 'code' | 'qr'; authCode?: string }
export interface PaymentResultBody {
  orderId: string;
  billId: string;
  amount: number;
  currency: 'CNY';
  status: 'pending' | 'succeeded' | 'failed';
  qrCode?: string;
  reason?: string;
}
export interface BillPaidBody { billId: string; reference: string; orderId: string; amount: number; currency: 'CNY'; paidAt: string }
