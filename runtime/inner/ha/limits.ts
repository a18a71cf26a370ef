// Named timings of the active/standby pair (docs/ha.md). Together they bound how long a
// takeover takes: a standby notices a freed lock within retryMs, and an active box whose
// lock session went silent (a partition that sends no reset) steps down within
// heartbeatMs + heartbeatTimeoutMs, while PostgreSQL's own keepalives end the session
// on its side.
export const HA_LIMITS = Object.freeze({
  // How often a standby asks for the lock while another box holds it.
  retryMs: 1_000,
  // How often the active box checks that its lock session still answers.
  heartbeatMs: 1_000,
  // A check that gets no answer in this long counts as a lost session.
  heartbeatTimeoutMs: 3_000,
  // The lock session's own connect timeout: a server that does not answer is retried.
  connectTimeoutMs: 5_000,
  // Any one query of the lock session (taking the lock, creating the schema, bumping the
  // epoch): one that hangs on a partitioned database ends the session, which is retried.
  queryTimeoutMs: 10_000,
  // Closing the lock session waits at most this long for the server's goodbye.
  closeTimeoutMs: 1_000,
});
