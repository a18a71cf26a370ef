import pg from 'pg';
import type { Logger } from '../../../common/logger.js';
import type { RetryClock } from '../backend.js';
import type { BatchOp, EngineSnapshot, Entry, EntryIterator, KeyRange, StoreEngine } from '../engine.js';
import { StoreError } from '../errors.js';
import {
  PG_CONNECT_TIMEOUT_MS, PG_PAGE_ROWS, PG_QUERY_TIMEOUT_MS, PG_READ_CONNECTIONS, PG_RETRY_FIRST_WAIT_MS, PG_RETRY_MAX_WAIT_MS, PG_WRITE_RETRY_MS,
} from '../limits.js';
import { isConnectionError } from './connection-errors.js';

// How long ending a lost writer session may take (pg_terminate_backend's wait).
const LOST_SESSION_END_MS = 5_000;
import { KV_TABLE, WRITE_BATCH_SQL, currentEpoch, ensureSchema, hasSchema, type Queryable } from './schema.js';

export interface PostgresEngineOptions {
  url: string;
  // The fencing token this process writes under (a bigint as a decimal string); none: no
  // fencing (one gateway alone on its database).
  epoch?: string;
  createIfMissing: boolean;
  log?: Logger;
  retryClock?: RetryClock;
  // How long a batch's statement may take before its connection counts as lost
  // (PG_QUERY_TIMEOUT_MS; tests shorten it).
  writeTimeoutMs?: number;
}

// The writer's server session, told apart from a later one that reuses its pid.
interface Session { pid: number; start: string }

const systemRetryClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

// The store on a PostgreSQL database: one table of keys and JSON texts (schema.ts). One
// writer connection applies the store's batches one at a time, each in one transaction
// behind the fence; a small pool serves reads. A read that fails while the server is
// away fails that read; a batch is written again on a new connection until
// PG_WRITE_RETRY_MS has passed, then the store fails closed.
export class PostgresEngine implements StoreEngine {
  readonly kind = 'postgres' as const;
  readonly snapshotAtIterator = false;
  readonly location: string;
  private writer: pg.Client | undefined;
  private writerSession: Session | undefined;
  // A writer session whose connection was given up while the server may still run its
  // statement (a client-side timeout, a partition): it is ended before the next write,
  // or it could commit an older batch after a newer one.
  private lostSession: Session | undefined;
  private closed = false;

  private constructor(
    private readonly options: PostgresEngineOptions,
    private readonly pool: pg.Pool,
    private readonly clock: RetryClock,
  ) {
    this.location = describe(options.url);
  }

  static async open(options: PostgresEngineOptions): Promise<PostgresEngine> {
    if (options.epoch !== undefined && !/^(0|[1-9][0-9]{0,18})$/.test(options.epoch)) {
      throw new Error(`a fencing epoch is a non-negative integer as decimal digits, not ${JSON.stringify(options.epoch)}`);
    }
    // A read on a connection that went silent (a partition) fails after PG_QUERY_TIMEOUT_MS
    // instead of holding its request for ever.
    const pool = new pg.Pool({ ...connectionConfig(options.url), max: PG_READ_CONNECTIONS, idleTimeoutMillis: 30_000, query_timeout: PG_QUERY_TIMEOUT_MS });
    // An idle connection the server drops is removed by the pool; this only keeps the
    // event from crashing the process.
    pool.on('error', (err) => options.log?.warn({ err: err.message }, 'postgres: an idle read connection failed'));
    const engine = new PostgresEngine(options, pool, options.retryClock ?? systemRetryClock);
    try {
      await engine.prepare();
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      // Say which database, and what to check: the server, the role, the database.
      throw new Error(`cannot open the store's PostgreSQL database at ${engine.location}: ${(err as Error).message} (check gateway.yaml store.postgres.urlFile and that the server takes connections)`, { cause: err });
    }
    return engine;
  }

  // A connection of the pool held by the caller. A checked-out client has no error
  // listener of the pool's, and a server that goes away meanwhile must fail the query in
  // flight, not the process: the listener logs, the query rejects on its own.
  private async checkout(): Promise<{ client: pg.PoolClient; release(err?: Error): void }> {
    const client = await this.pool.connect();
    const onError = (err: Error) => this.options.log?.warn({ err: err.message }, 'postgres: a read connection failed');
    client.on('error', onError);
    let released = false;
    return {
      client,
      release: (err) => {
        if (released) return;
        released = true;
        client.removeListener('error', onError);
        client.release(err);
      },
    };
  }

  private async prepare(): Promise<void> {
    const { client, release } = await this.checkout();
    try {
      const { rows } = await client.query<{ server_encoding: string }>('SHOW server_encoding');
      if (rows[0]?.server_encoding !== 'UTF8') {
        throw new Error(`the database at ${this.location} is encoded ${rows[0]?.server_encoding}; the store needs a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')`);
      }
      if (this.options.createIfMissing) await ensureSchema(client);
      else if (!(await hasSchema(client))) throw new StoreError('STORE_MISSING', `there is no store in the database at ${this.location}`);
      if (this.options.epoch !== undefined) {
        const epoch = await currentEpoch(client);
        if (epoch !== this.options.epoch) throw fenced(epoch, this.options.epoch);
      }
    } finally {
      release();
    }
  }

  async get(key: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ value: string }>({ name: 'ferry_get', text: `SELECT value FROM ${KV_TABLE} WHERE key = $1`, values: [key] });
    return rows[0]?.value;
  }

  async getMany(keys: readonly string[]): Promise<Array<string | undefined>> {
    if (keys.length === 0) return [];
    const { rows } = await this.pool.query<{ key: string; value: string }>({ name: 'ferry_get_many', text: `SELECT key, value FROM ${KV_TABLE} WHERE key = ANY($1::text[])`, values: [keys] });
    const found = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((k) => found.get(k));
  }

  iterator(range: KeyRange): EntryIterator {
    return new PageIterator((sql, values) => this.pool.query<Row>(sql, values).then((r) => r.rows), range, false);
  }

  async *keys(range: KeyRange): AsyncIterable<string> {
    const it = new PageIterator((sql, values) => this.pool.query<Row>(sql, values).then((r) => r.rows), range, true);
    try {
      for (;;) {
        const page = await it.nextv(PG_PAGE_ROWS);
        if (page.length === 0) return;
        for (const [key] of page) yield key;
      }
    } finally {
      await it.close();
    }
  }

  // A REPEATABLE READ transaction on a connection of its own: every read in it sees the
  // database as of its first query, which runs here.
  async snapshot(): Promise<EngineSnapshot> {
    const { client, release } = await this.checkout();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SELECT 1 FROM ${KV_TABLE} LIMIT 1`);
    } catch (err) {
      release(err as Error);
      throw err;
    }
    let closed = false;
    const run = (sql: string, values: unknown[]): Promise<Row[]> => client.query<Row>(sql, values).then((r) => r.rows);
    return {
      get: async (key) => (await run(`SELECT key, value FROM ${KV_TABLE} WHERE key = $1`, [key]))[0]?.value,
      iterator: (range) => new PageIterator(run, range, false),
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          await client.query('COMMIT');
          release();
        } catch (err) {
          release(err as Error);
        }
      },
    };
  }

  async write(ops: readonly BatchOp[]): Promise<void> {
    const { dels, keys, values } = finalState(ops);
    const epoch = this.options.epoch ?? null;
    const started = this.clock.now();
    let wait = PG_RETRY_FIRST_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new StoreError('STORE_CLOSED');
      try {
        const writer = await this.connectedWriter();
        const { rows } = await writer.query<{ epoch: string | null; ok: boolean | null }>({ name: 'ferry_write_batch', text: WRITE_BATCH_SQL, values: [epoch, dels, keys, values] });
        const row = rows[0];
        if (row?.ok !== true) throw fenced(row?.epoch ?? null, this.options.epoch!);
        if (attempt > 1) this.options.log?.warn({ attempt, ms: this.clock.now() - started }, 'postgres: batch written after the connection came back');
        return;
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        this.dropWriter();
        const elapsed = this.clock.now() - started;
        if (elapsed + wait > PG_WRITE_RETRY_MS) {
          throw new Error(`the PostgreSQL server at ${this.location} stayed unreachable for ${elapsed} ms (${attempt} attempts): ${(err as Error).message}`, { cause: err });
        }
        this.options.log?.warn({ err: (err as Error).message, attempt, waitMs: wait }, 'postgres: batch write lost its connection; writing it again');
        await this.clock.sleep(wait);
        wait = Math.min(wait * 2, PG_RETRY_MAX_WAIT_MS);
      }
    }
  }

  private async connectedWriter(): Promise<pg.Client> {
    if (this.writer) return this.writer;
    const client = new pg.Client({ ...connectionConfig(this.options.url), query_timeout: this.options.writeTimeoutMs ?? PG_QUERY_TIMEOUT_MS });
    // The query in flight rejects with the error too; the next write reconnects.
    client.on('error', (err) => {
      this.options.log?.warn({ err: err.message }, 'postgres: the writer connection failed');
      if (this.writer === client) this.dropWriter();
    });
    let session: Session;
    try {
      await client.connect();
      if (this.lostSession) await endSession(client, this.lostSession);
      this.lostSession = undefined;
      const { rows } = await client.query<Session>('SELECT pid, backend_start::text AS start FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      session = rows[0]!;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.writer = client;
    this.writerSession = session;
    return client;
  }

  private dropWriter(): void {
    const writer = this.writer;
    this.lostSession = this.writerSession ?? this.lostSession;
    this.writer = undefined;
    this.writerSession = undefined;
    void writer?.end().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const writer = this.writer;
    this.writer = undefined;
    await writer?.end().catch(() => undefined);
    await this.pool.end();
  }
}

// Ends the session `lost` if it still runs (after a server restart it does not, and its
// pid may belong to another session by now: the start time tells them apart), waiting
// until it has exited. A session that does not end in time fails this connection, and
// the write is tried again later.
async function endSession(client: pg.Client, lost: Session): Promise<void> {
  const { rows } = await client.query<{ ended: boolean }>(
    'SELECT pg_terminate_backend(pid, $3) AS ended FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2', [lost.pid, lost.start, LOST_SESSION_END_MS]);
  if (rows[0] && rows[0].ended !== true) {
    // As a connection exception (SQLSTATE class 08): the write waits and tries again.
    throw Object.assign(new Error(`the store's earlier writer session (pid ${lost.pid}) did not end within ${LOST_SESSION_END_MS} ms`), { code: '08000' });
  }
}

type Row = { key: string; value: string };
type RunQuery = (sql: string, values: unknown[]) => Promise<Row[]>;

// A range read a page at a time, each page a query that continues after the last key
// seen (keyset paging). Outside a snapshot, pages may come from different instants.
class PageIterator implements EntryIterator {
  private buffer: Entry[] = [];
  private last: string | undefined;
  private remaining: number;
  private done = false;

  constructor(private readonly run: RunQuery, private readonly range: KeyRange, private readonly keysOnly: boolean) {
    this.remaining = range.limit === undefined || range.limit < 0 ? Infinity : range.limit;
    if (this.remaining === 0) this.done = true;
  }

  async next(): Promise<Entry | undefined> {
    if (this.buffer.length === 0) await this.fill();
    return this.buffer.shift();
  }

  async nextv(size: number): Promise<Entry[]> {
    if (this.buffer.length === 0) await this.fill();
    return this.buffer.splice(0, size);
  }

  async close(): Promise<void> {
    this.done = true;
    this.buffer = [];
  }

  private async fill(): Promise<void> {
    if (this.done) return;
    const { gte, gt, lt, reverse } = this.range;
    const where: string[] = [];
    const values: unknown[] = [];
    const bound = (op: string, value: string) => {
      values.push(value);
      where.push(`key ${op} $${values.length}`);
    };
    if (this.last !== undefined) bound(reverse ? '<' : '>', this.last);
    if (this.last === undefined || reverse) {
      if (gt !== undefined) bound('>', gt);
      else if (gte !== undefined) bound('>=', gte);
    }
    if (lt !== undefined && (this.last === undefined || !reverse)) bound('<', lt);
    const rows = Math.min(this.remaining, PG_PAGE_ROWS);
    values.push(rows);
    const sql = `SELECT key${this.keysOnly ? '' : ', value'} FROM ${KV_TABLE}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY key ${reverse ? 'DESC' : 'ASC'} LIMIT $${values.length}`;
    const page = await this.run(sql, values);
    for (const row of page) this.buffer.push([row.key, row.value]);
    this.remaining -= page.length;
    if (page.length < rows || this.remaining <= 0) this.done = true;
    if (page.length > 0) this.last = page[page.length - 1]!.key;
  }
}

// A batch's ops applied in order come down to one final put or delete per key.
function finalState(ops: readonly BatchOp[]): { dels: string[]; keys: string[]; values: string[] } {
  const last = new Map<string, string | undefined>();
  for (const op of ops) {
    last.delete(op.key); // keep a key's place where it was last written
    last.set(op.key, op.type === 'put' ? op.value : undefined);
  }
  const dels: string[] = [];
  const keys: string[] = [];
  const values: string[] = [];
  for (const [key, value] of last) {
    if (value === undefined) dels.push(key);
    else {
      keys.push(key);
      values.push(value);
    }
  }
  return { dels, keys, values };
}

function fenced(theirs: string | null, ours: string): StoreError {
  return new StoreError('FENCED', `the database's fencing epoch is ${theirs ?? 'missing'}, this gateway writes under ${ours}: another gateway is active; nothing was written`);
}

function connectionConfig(url: string): pg.ClientConfig {
  return { connectionString: url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, application_name: 'ferry' };
}

// The connection string without its password, for logs and errors.
function describe(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured PostgreSQL database';
  }
}

export type { Queryable };
