// The payment server's wire shapes (docs/payment-server.openapi.yaml) and the simulator's knobs.
export type Method = 'code' | 'qr';
export type PaymentStatus = 'succeeded' | 'failed' | 'pending';

export interface PaymentRequest {
  orderId: string;
  amount: number;
  currency: 'CNY';
  method: Method;
  description: string;
  authCode?: string;
}

// What POST and GET /v1/payments answer.
export interface PaymentAnswer {
  orderId: string;
  status: PaymentStatus;
  amount: number;
  qrCode?: string;
  reason?: string;
}

export interface RefundRequest {
  refundId: string;
  orderId: string;
  amount: number;
  currency: 'CNY';
  reason: string;
}

export interface RefundAnswer {
  refundId: string;
  orderId: string;
  status: 'succeeded' | 'failed';
  amount: number;
  reason?: string;
}

export interface NotificationBody {
  notifyId: string;
  orderId: string;
  status: 'succeeded' | 'failed';
  amount: number;
  currency: 'CNY';
}

export interface Faults {
  latencyMs: number; // added before every /v1 answer
  errorRate: number; // 0..1: share of /v1 requests answered 500 before anything is done
  timeoutAfterCharge: number; // how many of the next new payments are recorded, then answered only after holdMs
  holdMs: number;
  down: boolean; // listener closed: connects fail with ECONNREFUSED
  downForMs: number; // with down: come back by itself after this long (0: stay down until down:false)
  duplicateNotifications: boolean; // deliver every notification twice
  declineRefunds: number; // how many of the next refund attempts are declined (answered failed)
  // TEST ONLY: a broken payment server that charges the next N new code payments twice,
  // so that the hospital simulation's invariant check can be seen to fail.
  doubleCharge: number;
  // How many of the next signed /v1 requests are refused 401 REPLAYED as if their
  // signature had been seen already: what a real server answers a client that reuses one.
  refuseAsReplayed: number;
}

export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  errorRate: 0,
  timeoutAfterCharge: 0,
  holdMs: 5_000,
  down: false,
  downForMs: 0,
  duplicateNotifications: false,
  declineRefunds: 0,
  doubleCharge: 0,
  refuseAsReplayed: 0,
});
