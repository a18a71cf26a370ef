// The fields each query kind answers with, in the order `ferry query` prints them as a
// table or CSV. The API answers with these fields only (an allowlist): a field added to
// a stored record is not shown until it is named here.
export const QUERY_KINDS = ['payments', 'refunds', 'bills', 'registrations', 'dispatches', 'audit'] as const;
export type QueryKindName = (typeof QUERY_KINDS)[number];

export const COLUMNS: Record<QueryKindName, readonly string[]> = {
  payments: ['orderId', 'createdAt', 'status', 'amount', 'currency', 'method', 'billId', 'registrationId', 'patientId', 'updatedAt', 'reason'],
  refunds: ['refundId', 'createdAt', 'status', 'orderId', 'amount', 'currency', 'registrationId', 'reason', 'updatedAt'],
  bills: ['billId', 'createdAt', 'status', 'patientId', 'total', 'currency', 'reference', 'createdBy', 'orderId', 'paidAt'],
  registrations: ['registrationId', 'createdAt', 'dept', 'date', 'session', 'patientId', 'fee', 'status', 'visitNo', 'orderId', 'refundId'],
  dispatches: ['dispatchId', 'createdAt', 'dept', 'seq', 'patientId', 'registrationId', 'priority', 'routedBy', 'status', 'ackedAt', 'ackedBy', 'symptoms'],
  audit: ['seq', 'ts', 'kind', 'event'],
};
