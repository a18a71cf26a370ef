// Errors of the store, for the operator and the log, never shown to a device as such
// (the gap answers INTERNAL). Codes are stable; callers match on `code`.
export const STORE_ERROR_CODES = {
  STORE_LOCKED: 'Another process holds the LevelDB lock on this store.',
  STORE_MISSING: 'There is no store in this data directory.',
  STORE_FAILED: 'A batch write failed; the store refuses further writes until restarted.',
  STORE_CLOSED: 'The store is closed or closing.',
  STORE_BUSY: 'Too many transactions are waiting for the store.',
  TX_TOO_LARGE: 'The transaction writes more than one batch may hold.',
  LIST_TOO_LARGE: 'More entries match than a list may return; pass a limit.',
  AUDIT_CORRUPT: 'The last audit entry does not verify; run `ferry audit verify`.',
} as const;

export type StoreErrorCode = keyof typeof STORE_ERROR_CODES;

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? STORE_ERROR_CODES[code], options);
    this.name = 'StoreError';
    this.code = code;
  }
}
