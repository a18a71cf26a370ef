// Why a reconciliation did not produce a report. The management API maps each code to
// an HTTP status (server.ts); the codes are stable.
export const RECONCILE_ERROR_CODES = {
  BAD_DATE: 'The date is not a calendar day (YYYY-MM-DD).',
  BUSY: 'Another reconciliation is running.',
  OUTER_DOWN: 'The outer (payment) side is not connected.',
  TIMEOUT: 'The statement did not arrive in time.',
  FETCH_FAILED: 'The outer side could not fetch a usable statement.',
  TOO_LARGE: 'The day has more records than one reconciliation holds.',
} as const;

export type ReconcileErrorCode = keyof typeof RECONCILE_ERROR_CODES;

export class ReconcileError extends Error {
  constructor(readonly code: ReconcileErrorCode, message?: string) {
    super(message ?? RECONCILE_ERROR_CODES[code]);
    this.name = 'ReconcileError';
  }
}
