// One handler per message type (runtime/inner/handlers/), behind the gap's one
// dispatcher. A handler runs inside a store transaction: it checks the request against
// what the gateway knows, writes what it changes, and says what to answer. The gap has
// already checked everything the rules say about the message before a handler runs.
import type { Request } from '../../../devices/protocol.js';
import type { DeviceRule } from '../../rules/types.js';
import type { Tx } from '../store/store.js';

export interface Answer {
  type: string;
  body: object;
}

export interface Accepted {
  // The answer, when it is known at once; it is stored for resends of the same request.
  answer?: Answer;
  // What a later answer is about (an order id), stored for resends instead of an answer.
  ref?: string;
  // What the audit entry records of the request instead of `ref`, when `ref` names a
  // patient: named fields (`patientId`) are what the query side masks.
  audit?: Record<string, string>;
  // Runs once the acceptance is durable; its answer is sent when it resolves.
  afterCommit?: () => Promise<Answer>;
  // Side effects once the acceptance is durable (republishing a slot snapshot, say).
  onCommitted?: () => void;
}

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
