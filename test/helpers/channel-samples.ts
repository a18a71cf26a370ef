// A valid `metrics` record, for the suites that check the channel table's rows: its
// shape (every enum a closed object) is long enough that two copies would drift.
import type { ChannelRecordOf } from '../../runtime/channel/records.js';

export const SAMPLE_METRICS: ChannelRecordOf<'metrics'> = {
  k: 'metrics', uptimeSeconds: 12.5, rssBytes: 80_000_000, eventLoopLagSeconds: 0.002, notifyListening: true, breaker: 'closed',
  paymentLatency: {
    payment: { buckets: [0, 1, 2, 2, 2, 2, 2, 2, 2, 2], count: 2, sum: 0.061 },
    status: { buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], count: 0, sum: 0 },
    refund: { buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], count: 1, sum: 9.5 },
    statement: { buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], count: 0, sum: 0 },
  },
  paymentErrors: { timeout: 1, network: 0, server_error: 0, refused: 0, replayed: 0, invalid: 0 },
  notifyAccepted: 3,
  notifyRefused: {
    NOT_FOUND: 0, METHOD: 0, TOO_LARGE: 0, SIGNATURE_MISSING: 0, SIGNATURE_MALFORMED: 0, STALE: 0, BAD_SIGNATURE: 2,
    REPLAYED: 0, INVALID: 0, AMOUNT_MISMATCH: 0, CONFLICT: 0, CONNECTIONS: 0, TIMEOUT: 0, BAD_HTTP: 0, REFUSED: 1,
  },
};
