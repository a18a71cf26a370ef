// One handler per message type (runtime/inner/handlers/), behind the gap's one
// dispatcher. A handler runs inside a store transaction: it checks the request against
// what the gateway knows, writes what it changes, and says what to answer and what to
// do once the transaction is durable. The gap has already checked everything the rules
// say about the message before a handler runs.
import type { Request } from '../../../devices/protocol.js';
import type { DeviceRule } from '../../rules/types.js';
import type { Tx } from '../store/store.js';
import type { SlotPool } from '../registration/pools.js';
import type { Refund } from '../payments/refunds.js';
import type { Order } from '../payments/order.js';
import type { DispatchRecord } from '../dispatch/records.js';
import { key } from '../store/keyspace.js';

export interface Answer {
  type: string;
  body: object;
}

// What a committed transaction leaves to do, run in this order by after-commit.ts.
// Nothing here may be needed for correctness after a crash: each is redone from the
// store (pools are republished at start, refunds and orders resent, outboxes and
// inboxes delivered on subscribe).
export type AfterCommit =
  | { kind: 'slots'; pool: SlotPool } // republish a pool's retained snapshot
  | { kind: 'refund'; refund: Refund } // send a refund across to the outer side
  | { kind: 'order'; order: Order } // send a new order across to the outer side
  | { kind: 'outbox'; device: string; messageId?: string } // the device has a new outbox message
  | { kind: 'answer'; order: Order } // the request waiting for this order's first answer gets it
  | { kind: 'dispatch.queued'; record: DispatchRecord }
  | { kind: 'dispatch.taken'; record: DispatchRecord };

interface AcceptedBase {
  // What the audit entry records of the request instead of `ref`, when `ref` names a
  // patient: named fields (`patientId`) are what the query side masks.
  audit?: Record<string, string>;
  effects: AfterCommit[];
}

export type Accepted =
  // Answered at once; the answer is stored for resends (unless the handler replays).
  | AcceptedBase & { kind: 'answer'; answer: Answer; ref?: string }
  // Answered when `answer` resolves, after the effects ran; `ref` (what the answer is
  // about: an order id) is stored for resends instead of an answer.
  | AcceptedBase & { kind: 'later'; ref: string; answer: () => Promise<Answer> };

// One record per device and request id: the same id sent again gets the same answer.
export const idempotencyKey = (deviceId: string, requestId: string) => key('idem', deviceId, requestId);

export interface IdempotencyRecord {
  hash: string;
  type: string;
  answer?: Answer;
  ref?: string;
  at?: string; // when it was accepted: retention prunes by it (records from before it are kept)
}

export interface Handler {
  type: string;
  accept(tx: Tx, request: Request, device: DeviceRule): Promise<Accepted>;
  // The answer to a resend of a request accepted earlier (default: the stored answer).
  replay?(record: IdempotencyRecord, device: DeviceRule): Promise<Answer>;
}
