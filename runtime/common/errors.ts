// One catalogue of the codes a device or an operator can see. A code is never reused
// for another meaning; docs/errors.md has a row per code saying how to fix it, and
// test/internals/errors.test.ts keeps the two in step.
export const ERROR_CODES = {
  // The gap: what a device sent
  MALFORMED: 'The payload is not UTF-8 JSON.',
  ENVELOPE: 'The envelope is missing a field or has one of the wrong kind.',
  TOO_LARGE: 'The payload is larger than this message type allows.',
  UNKNOWN_TYPE: 'The message type is not declared in the rules.',
  FORBIDDEN_TYPE: "The device's role may not send this message type.",
  TOPIC_MISMATCH: 'The envelope type differs from the type in the topic.',
  SCHEMA: "The body does not match the message type's schema.",
  CARD_DATA: 'The payload contains what looks like a payment card number.',
  RATE_LIMIT: 'The device sent more messages than its rate limit allows.',
  CONFLICT: 'The request id was used before with a different body.',
  // Business rules
  BILL_NOT_FOUND: 'No bill with that id.',
  BILL_NOT_OPEN: 'The bill is already paid or being paid.',
  AMOUNT_MISMATCH: 'The amount is not what the gateway knows is owed.',
  TOTAL_MISMATCH: "The bill's total is not the sum of its items.",
  DUPLICATE_BILL: 'A bill with that reference already exists.',
  // Registration
  UNKNOWN_DEPT: 'No such department in departments.yaml.',
  UNKNOWN_SESSION: 'No such session in departments.yaml.',
  UNKNOWN_LEVEL: 'The department has no such doctor level.',
  PAST_SESSION: 'The session is over.',
  NOT_BOOKABLE_YET: 'Registration for that date is not open yet.',
  CLOSED: 'The session is closed for registration.',
  SOLD_OUT: 'No slot is left in the session.',
  REGISTRATION_NOT_FOUND: 'No such registration for this patient.',
  REGISTRATION_NOT_PAYABLE: 'The registration is not a hold waiting for payment.',
  HOLD_EXPIRED: 'The hold expired before it was paid.',
  PAYMENT_IN_FLIGHT: 'A payment for the registration is under way.',
  // Dispatch to departments
  DISPATCH_NOT_FOUND: "No such message in the department's inbox.",
  INBOX_FULL: "The department's inbox holds too many messages no workstation has taken.",
  INTERNAL: 'The gateway could not process the message; it has been logged.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  constructor(code: ErrorCode, message?: string, path?: string) {
    super(message ?? ERROR_CODES[code]);
    this.code = code;
    this.path = path;
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
