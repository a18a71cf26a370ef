// Named maxima of the store. Each bounds memory or latency; none is a tuning knob that
// changes behaviour beyond that.

// One LevelDB batch (one fsync) carries at most this many operations or bytes. Group commit
// amortises the fsync over many transactions; the cap keeps a single write (and the
// memory held for it) bounded. A single transaction larger than either is refused: a
// transaction is never split across batches, or it would not be atomic.
export const MAX_BATCH_OPS = 1_000;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

// Batches waiting behind the one being written. When full, the next commit waits for the
// disk while holding the transaction mutex, which pushes back on every writer instead of
// growing the unsynced overlay without bound (at most this many times MAX_BATCH_BYTES).
export const MAX_QUEUED_BATCHES = 8;

// Synced values kept in memory for the reads that follow a write (an order read back by
// its outcome, a bill by its payment) and for keys read again and again (the instance
// tag): counted as V8 holds key and JSON text (commit-queue.ts cachedBytes). A bill's
// creation and its payment write about 2.3 KB of it, so it holds some 3,500 paid bills:
// seconds at the maximum rate, hours of a hospital's day, where a bill is paid minutes
// after it was made. Every write passes
// through the commit queue, so what it holds is exact.
export const MAX_RECENT_VALUE_BYTES = 8 * 1024 * 1024;

// Transactions waiting for the mutex. Above this the caller is told the store is busy: a
// device burst must not turn into unbounded memory on the inner side.
export const MAX_WAITING_TRANSACTIONS = 65_536;

// A list() without a limit returns at most this many entries, and refuses rather than
// truncating silently when there are more.
export const MAX_LIST_ENTRIES = 100_000;

// LevelDB's table block (before compression), kept at LevelDB's 4 KiB. Its compaction
// writes one block per system call, so 16 KiB blocks halve the store threads' write calls
// per payment; but the one 180-day store measured with them (on a loaded machine)
// answered a query by patient in 68 ms and verified the audit chain at 207,000 entries/s,
// against 6.8 ms and 459,000/s with 4 KiB blocks on a quiet one. Until a quiet run with
// 16 KiB blocks says otherwise, the query side wins.
// Tables written before keep the size they were written with.
export const LEVEL_BLOCK_BYTES = 4 * 1024;

// On an engine whose iterators do not read a snapshot taken when they are created
// (PostgreSQL), a listing that overlapped a synced batch is read again this many times
// before it is read under the transaction mutex (Store.listRaw).
export const MAX_LIST_RETRIES = 3;

// Backups (backup-file.ts): keys read from the snapshot, and lines handed to the writer,
// per batch, with a read buffer that fills a batch (audit entries are about 300 bytes).
// A batch is encoded in one turn of the event loop, so payments wait at most that long.
export const BACKUP_BATCH_KEYS = 1_000;
export const BACKUP_READ_BYTES = 512 * 1024;
// gzip level of a backup: the fastest, as a backup of a large store is bound by the
// compression, and the level changes the size by a fifth at most on this data.
export const BACKUP_GZIP_LEVEL = 1;
// A line of a backup file longer than this is damage, not a record: values are far
// smaller (a transaction is at most MAX_BATCH_BYTES).
export const BACKUP_LINE_BYTES_MAX = 2 * MAX_BATCH_BYTES;
// Keys written per batch when a backup is restored (unsynced; the last one is synced).
export const RESTORE_BATCH_KEYS = 5_000;
// A format migration's step is one write of the engine while its writes number at most
// this many (about 16 MB held); an additive step (format.ts) writes larger sets in pages
// of this size instead.
export const MIGRATION_ONE_WRITE_OPS = 100_000;
// PostgreSQL backend. A batch whose write fails on a lost connection is written again
// (it is absolute puts and deletes from the one writer, so applying it twice is applying
// it once) for at most this long, with a wait doubling from the first to the last; after
// that the store fails closed, as on a LevelDB write error. 15 s rides through a server
// restart or a failover of the database; the device's reply wait is longer.
export const PG_WRITE_RETRY_MS = 15_000;
export const PG_RETRY_FIRST_WAIT_MS = 50;
export const PG_RETRY_MAX_WAIT_MS = 2_000;
// Connections for reads (the writer has its own): the store's reads are short.
export const PG_READ_CONNECTIONS = 4;
// How long a new connection may take, and a query, before it counts as lost: a dead
// server or a silent network must not hold a batch or a request for ever.
export const PG_CONNECT_TIMEOUT_MS = 5_000;
export const PG_QUERY_TIMEOUT_MS = 10_000;
// Rows fetched per query by an iterator over a range.
export const PG_PAGE_ROWS = 1_000;
