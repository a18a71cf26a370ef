// One catalogue of the error codes a device, an operator or the payment server can see,
// by area. `code` is what goes on the wire (an MQTT `error` body, an HTTP answer's
// `error`, a log line); `status` is the HTTP status it is answered with, where it is.
// A code keeps its meaning forever within its area. A few wire codes are the same in
// two areas (the device's TOO_LARGE and the notification endpoint's, say): they are
// different entries, told apart by their keys `area.CODE`, and no area has a code twice.
// docs/errors.md has a row per entry saying how to fix it, and
// test/internals/errors.test.ts keeps the two in step.
export type ErrorArea = 'device' | 'store' | 'reconcile' | 'management' | 'notify' | 'payment-server';

interface ErrorEntry {
  readonly area: ErrorArea;
  readonly code: string;
  readonly status?: number;
  readonly message: string;
}

export const ERRORS = {
  // Devices: the body of an `error` answer on dev/{id}/down. Device software branches on
  // these: never rename one or give it another meaning.
  // The gap: what a device sent
  'device.MALFORMED': { area: 'device', code: 'MALFORMED', message: 'The payload is not UTF-8 JSON.' },
  'device.ENVELOPE': { area: 'device', code: 'ENVELOPE', message: 'The envelope is missing a field or has one of the wrong kind.' },
  'device.TOO_LARGE': { area: 'device', code: 'TOO_LARGE', message: 'The payload is larger than this message type allows.' },
  'device.UNKNOWN_TYPE': { area: 'device', code: 'UNKNOWN_TYPE', message: 'The message type is not declared in the rules.' },
  'device.FORBIDDEN_TYPE': { area: 'device', code: 'FORBIDDEN_TYPE', message: "The device's role may not send this message type." },
  'device.TOPIC_MISMATCH': { area: 'device', code: 'TOPIC_MISMATCH', message: 'The envelope type differs from the type in the topic.' },
  'device.SCHEMA': { area: 'device', code: 'SCHEMA', message: "The body does not match the message type's schema." },
  'device.CARD_DATA': { area: 'device', code: 'CARD_DATA', message: 'The payload contains what looks like a payment card number.' },
  'device.RATE_LIMIT': { area: 'device', code: 'RATE_LIMIT', message: 'The device sent more messages than its rate limit allows.' },
  'device.CONFLICT': { area: 'device', code: 'CONFLICT', message: 'The request id was used before with a different body.' },
  // Business rules
  'device.BILL_NOT_FOUND': { area: 'device', code: 'BILL_NOT_FOUND', message: 'No bill with that id.' },
  'device.BILL_NOT_OPEN': { area: 'device', code: 'BILL_NOT_OPEN', message: 'The bill is already paid or being paid.' },
  'device.AMOUNT_MISMATCH': { area: 'device', code: 'AMOUNT_MISMATCH', message: 'The amount is not what the gateway knows is owed.' },
  'device.TOTAL_MISMATCH': { area: 'device', code: 'TOTAL_MISMATCH', message: "The bill's total is not the sum of its items." },
  'device.DUPLICATE_BILL': { area: 'device', code: 'DUPLICATE_BILL', message: 'A bill with that reference already exists.' },
  // Registration
  'device.UNKNOWN_DEPT': { area: 'device', code: 'UNKNOWN_DEPT', message: 'No such department in departments.yaml.' },
  'device.UNKNOWN_SESSION': { area: 'device', code: 'UNKNOWN_SESSION', message: 'No such session in departments.yaml.' },
  'device.UNKNOWN_LEVEL': { area: 'device', code: 'UNKNOWN_LEVEL', message: 'The department has no such doctor level.' },
  'device.PAST_SESSION': { area: 'device', code: 'PAST_SESSION', message: 'The session is over.' },
  'device.NOT_BOOKABLE_YET': { area: 'device', code: 'NOT_BOOKABLE_YET', message: 'Registration for that date is not open yet.' },
  'device.CLOSED': { area: 'device', code: 'CLOSED', message: 'The session is closed for registration.' },
  'device.SOLD_OUT': { area: 'device', code: 'SOLD_OUT', message: 'No slot is left in the session.' },
  'device.REGISTRATION_NOT_FOUND': { area: 'device', code: 'REGISTRATION_NOT_FOUND', message: 'No such registration for this patient.' },
  'device.REGISTRATION_NOT_PAYABLE': { area: 'device', code: 'REGISTRATION_NOT_PAYABLE', message: 'The registration is not a hold waiting for payment.' },
  'device.HOLD_EXPIRED': { area: 'device', code: 'HOLD_EXPIRED', message: 'The hold expired before it was paid.' },
  'device.PAYMENT_IN_FLIGHT': { area: 'device', code: 'PAYMENT_IN_FLIGHT', message: 'A payment for the registration is under way.' },
  // Dispatch to departments
  'device.DISPATCH_NOT_FOUND': { area: 'device', code: 'DISPATCH_NOT_FOUND', message: "No such message in the department's inbox." },
  'device.INBOX_FULL': { area: 'device', code: 'INBOX_FULL', message: "The department's inbox holds too many messages no workstation has taken." },
  'device.INTERNAL': { area: 'device', code: 'INTERNAL', message: 'The gateway could not process the message; it has been logged.' },

  // The store (StoreError): for the operator and the log, never shown to a device as
  // such (the gap answers INTERNAL). Callers match on the code.
  'store.STORE_LOCKED': { area: 'store', code: 'STORE_LOCKED', message: 'Another process holds the LevelDB lock on this store.' },
  'store.STORE_MISSING': { area: 'store', code: 'STORE_MISSING', message: 'There is no store in this data directory.' },
  'store.STORE_FAILED': { area: 'store', code: 'STORE_FAILED', message: 'A batch write failed; the store refuses further writes until restarted.' },
  'store.FENCED': { area: 'store', code: 'FENCED', message: 'Another gateway has become active on this database; this one may no longer write.' },
  'store.STORE_CLOSED': { area: 'store', code: 'STORE_CLOSED', message: 'The store is closed or closing.' },
  'store.STORE_BUSY': { area: 'store', code: 'STORE_BUSY', message: 'Too many transactions are waiting for the store.' },
  'store.TX_TOO_LARGE': { area: 'store', code: 'TX_TOO_LARGE', message: 'The transaction writes more than one batch may hold.' },
  'store.LIST_TOO_LARGE': { area: 'store', code: 'LIST_TOO_LARGE', message: 'More entries match than a list may return; pass a limit.' },
  'store.AUDIT_CORRUPT': { area: 'store', code: 'AUDIT_CORRUPT', message: 'The last audit entry does not verify; run `ferry audit verify`.' },
  // The store's format version and its backups (store/format.ts, store/backup-file.ts).
  'store.FORMAT_NEWER': { area: 'store', code: 'FORMAT_NEWER', message: 'The store was written in a newer format than this Ferry knows.' },
  'store.FORMAT_UNREADABLE': { area: 'store', code: 'FORMAT_UNREADABLE', message: 'The store\'s format version is not a version number.' },
  'store.MIGRATION_FAILED': { area: 'store', code: 'MIGRATION_FAILED', message: 'A step of the store\'s format migration failed; the store is left in its format.' },
  'store.BACKUP_DAMAGED': { area: 'store', code: 'BACKUP_DAMAGED', message: 'The backup file is damaged, truncated or not a Ferry backup.' },
  'store.BACKUP_CHECKSUM': { area: 'store', code: 'BACKUP_CHECKSUM', message: 'The backup\'s content does not match its checksum.' },
  'store.BACKUP_CHAIN': { area: 'store', code: 'BACKUP_CHAIN', message: 'The audit chain in the backup does not verify, or its head is not the one the backup names.' },
  'store.RESTORE_TARGET': { area: 'store', code: 'RESTORE_TARGET', message: 'The data directory already holds a store, or a running gateway holds it.' },

  // Reconciliation (ReconcileError): why it produced no report. The management API answers
  // POST /v1/reconcile with the status; the audit's `reconcile.failed` has the code.
  'reconcile.BAD_DATE': { area: 'reconcile', code: 'BAD_DATE', status: 400, message: 'The date is not a calendar day (YYYY-MM-DD).' },
  'reconcile.BUSY': { area: 'reconcile', code: 'BUSY', status: 409, message: 'Another reconciliation is running.' },
  'reconcile.OUTER_DOWN': { area: 'reconcile', code: 'OUTER_DOWN', status: 503, message: 'The outer (payment) side is not connected.' },
  'reconcile.TIMEOUT': { area: 'reconcile', code: 'TIMEOUT', status: 504, message: 'The statement did not arrive in time.' },
  'reconcile.FETCH_FAILED': { area: 'reconcile', code: 'FETCH_FAILED', status: 502, message: 'The outer side could not fetch a usable statement.' },
  'reconcile.TOO_LARGE': { area: 'reconcile', code: 'TOO_LARGE', status: 500, message: 'The day has more records than one reconciliation holds.' },

  // The management API's own answers (runtime/inner/management/server.ts).
  'management.UNAUTHORIZED': { area: 'management', code: 'UNAUTHORIZED', status: 401, message: 'A valid bearer token is required.' },
  'management.FORBIDDEN': { area: 'management', code: 'FORBIDDEN', status: 403, message: 'This needs the admin token.' },
  'management.NOT_FOUND': { area: 'management', code: 'NOT_FOUND', status: 404, message: 'No such route or query kind.' },
  'management.METHOD_NOT_ALLOWED': { area: 'management', code: 'METHOD_NOT_ALLOWED', status: 405, message: 'The route takes another method.' },
  'management.BAD_PARAM': { area: 'management', code: 'BAD_PARAM', status: 400, message: 'A query parameter is unknown, missing or malformed.' },
  'management.REFUND_NOT_FOUND': { area: 'management', code: 'REFUND_NOT_FOUND', status: 404, message: 'No such registration or refund to retry.' },
  'management.NOT_REFUND_FAILED': { area: 'management', code: 'NOT_REFUND_FAILED', status: 409, message: 'There is no declined refund to retry.' },
  'management.RULES_INVALID': { area: 'management', code: 'RULES_INVALID', status: 422, message: 'The rule files do not load; the running rules stay.' },
  'management.INTERNAL': { area: 'management', code: 'INTERNAL', status: 500, message: 'internal error; see the gateway log' },
  'management.BACKUP_BUSY': { area: 'management', code: 'BACKUP_BUSY', status: 409, message: 'A backup is being taken; one runs at a time.' },
  'management.STANDBY': { area: 'management', code: 'STANDBY', status: 503, message: 'This box is the standby of an active/standby pair; ask the active one.' },
  'management.NOT_READY': { area: 'management', code: 'NOT_READY', status: 503, message: 'A part of the gateway is not ready; the answer names each check that failed.' },

  // The notification endpoint's answers to the payment server (`{"error":"CODE"}`), part
  // of the contract in docs/payment-server.openapi.yaml.
  'notify.INVALID': { area: 'notify', code: 'INVALID', status: 400, message: 'The body is not a notification of the contract.' },
  'notify.AMOUNT_MISMATCH': { area: 'notify', code: 'AMOUNT_MISMATCH', status: 400, message: "The amount differs from the order's." },
  'notify.REFUSED': { area: 'notify', code: 'REFUSED', status: 400, message: 'The inner side refused the notification.' },
  'notify.SIGNATURE': { area: 'notify', code: 'SIGNATURE', status: 401, message: 'The signature is missing, malformed, stale or wrong.' },
  'notify.REPLAYED': { area: 'notify', code: 'REPLAYED', status: 401, message: 'The signature was seen before within the tolerance.' },
  'notify.NOT_FOUND': { area: 'notify', code: 'NOT_FOUND', status: 404, message: 'Another path than /v1/notifications.' },
  'notify.METHOD': { area: 'notify', code: 'METHOD', status: 405, message: 'Not a POST.' },
  'notify.CONFLICT': { area: 'notify', code: 'CONFLICT', status: 409, message: 'The notification id was accepted before with other content.' },
  'notify.TOO_LARGE': { area: 'notify', code: 'TOO_LARGE', status: 413, message: 'The body is larger than 4 KiB.' },
  'notify.INTERNAL': { area: 'notify', code: 'INTERNAL', status: 500, message: 'A fault in the outer process.' },
  'notify.UNAVAILABLE': { area: 'notify', code: 'UNAVAILABLE', status: 503, message: 'The inner side is away or did not answer in time.' },

  // What the payment server answers (the simulator's codes, docs/payment-server.openapi.yaml
  // ErrorAnswer). The relay acts on the status; of the codes it reads only REPLAYED.
  'payment-server.INVALID': { area: 'payment-server', code: 'INVALID', status: 400, message: 'A field of the request is malformed (`field` names it).' },
  'payment-server.IDEMPOTENCY_KEY': { area: 'payment-server', code: 'IDEMPOTENCY_KEY', status: 400, message: "The Idempotency-Key is not the body's order or refund id." },
  'payment-server.SIGNATURE': { area: 'payment-server', code: 'SIGNATURE', status: 401, message: 'The signature is missing, malformed, stale or wrong.' },
  'payment-server.REPLAYED': { area: 'payment-server', code: 'REPLAYED', status: 401, message: 'The signature was seen before.' },
  'payment-server.NOT_FOUND': { area: 'payment-server', code: 'NOT_FOUND', status: 404, message: 'No such order, or no such route.' },
  'payment-server.IDEMPOTENCY_CONFLICT': { area: 'payment-server', code: 'IDEMPOTENCY_CONFLICT', status: 409, message: 'Another request was made under this Idempotency-Key.' },
  'payment-server.TOO_LARGE': { area: 'payment-server', code: 'TOO_LARGE', status: 413, message: 'The request body is too large.' },
  'payment-server.INTERNAL': { area: 'payment-server', code: 'INTERNAL', status: 500, message: 'The payment server failed.' },
  'payment-server.FULL': { area: 'payment-server', code: 'FULL', status: 503, message: 'The payment server holds no more payments.' },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorKey = keyof typeof ERRORS;
// The wire codes of one area.
export type CodeOf<A extends ErrorArea> = { [K in ErrorKey]: (typeof ERRORS)[K] extends { area: A; code: infer C } ? C : never }[ErrorKey];

export function errorEntry<A extends ErrorArea>(area: A, code: CodeOf<A>): ErrorEntry {
  const entry: ErrorEntry | undefined = (ERRORS as Record<string, ErrorEntry>)[`${area}.${code}`];
  assert(entry !== undefined && entry.area === area, `${area}.${code} is in the catalogue`);
  return entry;
}

// The HTTP status of a code of an area that answers over HTTP.
export function httpStatus(area: 'reconcile' | 'management' | 'notify' | 'payment-server', code: string): number {
  const status = (ERRORS as Record<string, ErrorEntry>)[`${area}.${code}`]?.status;
  assert(status !== undefined, `${area}.${code} has an HTTP status`);
  return status;
}

// A code a device gets in an `error` answer.
export type ErrorCode = CodeOf<'device'>;

// Refuses a device's message: the gap answers it with `code`, the message and the path.
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  constructor(code: ErrorCode, message?: string, path?: string) {
    super(message ?? errorEntry('device', code).message);
    this.code = code;
    this.path = path;
  }
}

// A programmer error: a state the code must never reach. Not for bad input.
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
