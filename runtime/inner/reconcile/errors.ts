// Why a reconciliation did not produce a report. Codes, messages and the management
// API's HTTP status for each are in the catalogue (runtime/common/errors.ts, area
// `reconcile`); the codes are stable.
import { errorEntry, type CodeOf } from '../../common/errors.js';

export type ReconcileErrorCode = CodeOf<'reconcile'>;

export class ReconcileError extends Error {
  constructor(readonly code: ReconcileErrorCode, message?: string) {
    super(message ?? errorEntry('reconcile', code).message);
    this.name = 'ReconcileError';
  }
}
