// What an order pays for: a bill (billing/payable.ts) or a registration hold
// (registration/payable.ts). The order book moves the order; the payable says what
// its end means for the thing paid for, inside the same transaction.
import type { PaymentRequestBody } from '../../../devices/protocol.js';
import type { Tx } from '../store/store.js';
import type { SlotPool } from '../registration/pools.js';
import type { Order } from './order.js';
import type { Refund } from './refunds.js';

// A message for a device, written to its outbox in the transaction that decided it.
export interface Notice {
  device: string;
  type: string;
  body: object;
}

export interface Settled {
  notices: Notice[];
  pools: SlotPool[]; // slot pools whose snapshot changed
  refund?: { amount: number; reason: string }; // the money came but cannot be kept
}

// A payment.request's target, checked: what the order is for and costs, and how to mark
// the target as being paid once the order exists (same transaction).
export interface Claim {
  pays: { billId: string } | { registrationId: string };
  patientId: string; // whose bill or registration: the order is indexed by it (ordersOf)
  amount: number;
  description: string;
  paying(orderId: string): void;
}

export interface Payable {
  // The payment.request's target if it is one of these (undefined: another payable's);
  // throws the FerryError the device is answered with when it may not be paid.
  claim(tx: Tx, body: PaymentRequestBody, now: Date): Promise<Claim | undefined>;
  // Whether the order pays for one of these.
  pays(order: Order): boolean;
  // The order is final (succeeded or failed): settle what it paid for.
  settle(tx: Tx, order: Order, now: Date): Promise<Settled>;
  // A refund of the order was asked (or asked again).
  refunding(tx: Tx, refund: Refund, now: Date): Promise<void>;
  // The payment server answered a refund: what to tell, if anyone.
  refunded(tx: Tx, refund: Refund, ok: boolean, reason: string | undefined, now: Date): Promise<Notice | null>;
}
