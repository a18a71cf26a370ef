// Named maxima of dispatch. Each bounds memory or a burst; none changes what
// is delivered, only when.

// Unacknowledged messages one department may hold. A department whose workstations have
// all been off for a long time must not grow the store without bound: patient.info to
// it is refused (INBOX_FULL) until its backlog is taken. Also below the store's
// MAX_LIST_ENTRIES, so a department's open list is always read whole.
export const MAX_OPEN_PER_DEPT = 10_000;

// Publishes waiting in one department's queue. Above this a new message is not queued
// for immediate publishing: it is in the store, and the next sweep or connect sends it.
export const MAX_PENDING_PUBLISHES_PER_DEPT = 10_000;

// Open messages sent in one redelivery pass to one department (about 1 KiB each in the
// broker's memory). The rest follow on the next sweep.
export const MAX_REDELIVERY_BATCH = 2_000;

// The sweep that resends what is overdue runs this often at most and at least: half the
// redelivery time, within these bounds.
export const SWEEP_MS_MIN = 100;
export const SWEEP_MS_MAX = 30_000;

// Messages waiting to be marked 'delivered' in the store (one batch is written at a
// time). Past this, a message keeps the status 'queued' until acked: only a status is lost.
export const MAX_PENDING_DELIVERED = 10_000;
