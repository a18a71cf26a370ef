// Errors of the store, for the operator and the log, never shown to a device as such
// (the gap answers INTERNAL). Codes and messages are in the catalogue
// (runtime/common/errors.ts, area `store`); callers match on `code`.
import { errorEntry, type CodeOf } from '../../common/errors.js';

export type StoreErrorCode = CodeOf<'store'>;

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? errorEntry('store', code).message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
