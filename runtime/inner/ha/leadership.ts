// Which box of an active/standby pair is active (docs/ha.md). A box is active while it
// holds one session-level advisory lock on the shared PostgreSQL database, on a
// connection of its own; on taking it, it bumps the leader row's epoch, and the store is
// opened with that epoch as its fencing token: every write transaction checks that the
// row still names it, so a box that lost its lock (a partition, a long pause) can never
// commit after the next one became active. The lock alone cannot promise that: the old
// box learns of its loss only some time after PostgreSQL has freed the lock.
//
// The lock session is watched: its end, an error on it, or a check it does not answer
// settles `lost`, and the caller steps down at once (runtime/inner/main.ts exits).
import pg from 'pg';
import type { Clock, ClockTimer } from '../../common/clock.js';
import { sleepOn } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { HA_LIMITS } from './limits.js';
import { LEADER_ROW_ID, LEADER_TABLE, ensureSchema } from '../store/postgres/schema.js';

// The one advisory-lock key of a Ferry pair: "ferry-ha" as eight ASCII bytes, a positive
// bigint. A database holds one Ferry store, so one key is all a pair needs.
export const LEADER_LOCK_KEY = BigInt(`0x${Buffer.from('ferry-ha', 'ascii').toString('hex')}`).toString();

export type HaLimits = { readonly [K in keyof typeof HA_LIMITS]: number };

export interface LeadershipOptions {
  connectionString: string;
  holder: string; // this box, as ferry_leader.holder and the logs name it (host:pid)
  clock: Clock; // the standby's retries and the active box's checks
  log: Logger;
  limits?: Partial<HaLimits>;
  // Creates the store's tables when the database is new (default: the store's own
  // ensureSchema); runs while holding the lock, before the epoch is bumped.
  ensureSchema?: (client: pg.ClientBase) => Promise<void>;
  // Told after each attempt that did not win, with why: the standby's state for the log
  // and the console, and for tests, when to move their clock on.
  onStandby?: (why: string, attempt: number) => void;
}

export interface Leader {
  readonly epoch: string; // the fencing token, a bigint as a decimal string
  readonly holder: string;
  // Settles once, when the lock session ends, errs or stops answering (not on release()).
  readonly lost: Promise<Error>;
  // A clean stop: unlocks and closes the session, so the standby takes over at once.
  release(): Promise<void>;
}

export class CampaignAborted extends Error {
  constructor() {
    super('stopped before this box became active');
    this.name = 'CampaignAborted';
  }
}

// Tries for the lock until this box holds it (then resolves with the new epoch), or the
// signal stops it (then rejects with CampaignAborted). Another box holding the lock, a
// database that is down or refuses: each is a wait of retryMs and another try.
export async function campaign(o: LeadershipOptions, signal?: AbortSignal): Promise<Leader> {
  const limits: HaLimits = { ...HA_LIMITS, ...o.limits };
  const log = o.log.child({ part: 'ha' });
  let session: Session | undefined;
  let lastWhy: string | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new CampaignAborted();
      let why: string;
      if (session?.broken) {
        // Ended while this box waited (the server restarted, an operator ended it).
        await session.close();
        session = undefined;
      }
      try {
        session ??= await Session.open(o, limits);
        const won = await session.tryLock();
        if (won) {
          await (o.ensureSchema ?? ensureSchema)(session.client);
          const epoch = await session.bumpEpoch(o.holder);
          log.info({ epoch, holder: o.holder, attempt }, 'this box is active: it holds the leader lock');
          const leader = new Lease(session, epoch, o.holder, o.clock, limits, log);
          session = undefined; // the lease owns it now
          return leader;
        }
        why = `another box holds the leader lock (${await session.currentHolder()})`;
      } catch (err) {
        // Down, unreachable, or refusing this role (a password, a permission): all a wait.
        why = `the database cannot be used: ${(err as Error).message}`;
        await session?.close();
        session = undefined;
      }
      // Said once, and again whenever the reason changes (the database went away, came back).
      if (why !== lastWhy) log.info({ why, attempt }, 'this box is the standby');
      else log.debug({ why, attempt }, 'still the standby');
      lastWhy = why;
      o.onStandby?.(why, attempt);
      await sleepOn(o.clock, limits.retryMs, signal);
    }
  } finally {
    await session?.close();
  }
}

// The lock connection: one pg.Client that never runs anything but the lock's queries.
class Session {
  private failure: Error | undefined;
  private readonly failed: Array<(err: Error) => void> = [];
  private ended = false;

  private constructor(readonly client: pg.Client, private readonly clock: Clock, private readonly limits: HaLimits) {
    client.on('error', (err) => this.fail(err));
    client.on('end', () => {
      this.ended = true;
      this.fail(new Error('the lock session ended'));
    });
  }

  static async open(o: LeadershipOptions, limits: HaLimits): Promise<Session> {
    const client = new pg.Client({
      connectionString: o.connectionString,
      connectionTimeoutMillis: limits.connectTimeoutMs,
      query_timeout: limits.queryTimeoutMs,
      keepAlive: true,
      application_name: `ferry-ha ${o.holder}`.slice(0, 63),
    });
    const session = new Session(client, o.clock, limits);
    try {
      await client.connect();
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  get broken(): boolean {
    return this.failure !== undefined;
  }

  // The first failure, once; at once when it came already.
  onFailure(fn: (err: Error) => void): void {
    if (this.failure) fn(this.failure);
    else this.failed.push(fn);
  }

  async tryLock(): Promise<boolean> {
    const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [LEADER_LOCK_KEY]);
    return rows[0]?.locked === true;
  }

  // Under the lock: the next epoch is this box's. The row lock the UPDATE takes waits for
  // the write transactions of the previous epoch that hold it FOR SHARE, so once this
  // returns none of theirs can commit.
  async bumpEpoch(holder: string): Promise<string> {
    const { rows } = await this.client.query<{ epoch: string }>(
      `UPDATE ${LEADER_TABLE} SET epoch = epoch + 1, holder = $1, since = now() WHERE id = ${LEADER_ROW_ID} RETURNING epoch::text AS epoch`, [holder]);
    const epoch = rows[0]?.epoch;
    if (epoch === undefined) throw new Error(`${LEADER_TABLE} has no row ${LEADER_ROW_ID}`);
    return epoch;
  }

  // For the standby's log line: who is active, as the leader row says.
  async currentHolder(): Promise<string> {
    try {
      const { rows } = await this.client.query<{ holder: string | null; epoch: string }>(`SELECT holder, epoch::text AS epoch FROM ${LEADER_TABLE} WHERE id = ${LEADER_ROW_ID}`);
      const row = rows[0];
      return row ? `${row.holder ?? 'unnamed'}, epoch ${row.epoch}` : 'no leader row yet';
    } catch {
      return 'no leader table yet';
    }
  }

  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  async unlock(): Promise<void> {
    await this.client.query('SELECT pg_advisory_unlock($1::bigint)', [LEADER_LOCK_KEY]);
  }

  // Bounded: on a partitioned network the server never answers the goodbye, and a box
  // that is stopping or stepping down must not wait for it.
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, this.limits.closeTimeoutMs);
      timer.unref();
    });
    await Promise.race([this.client.end().catch(() => {}), late]);
    this.clock.clearTimeout(timer);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const fn of this.failed.splice(0)) fn(err);
  }
}

class Lease implements Leader {
  readonly lost: Promise<Error>;
  private settle!: (err: Error) => void;
  private done = false;
  private checking = false;
  private readonly heartbeat: ClockTimer;

  constructor(
    private readonly session: Session,
    readonly epoch: string,
    readonly holder: string,
    private readonly clock: Clock,
    private readonly limits: HaLimits,
    private readonly log: Logger,
  ) {
    this.lost = new Promise((resolve) => {
      this.settle = resolve;
    });
    session.onFailure((err) => this.lose(err));
    this.heartbeat = clock.setInterval(() => this.check(), limits.heartbeatMs);
    this.heartbeat.unref();
  }

  async release(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.clock.clearInterval(this.heartbeat);
    await this.session.unlock().catch(() => {});
    await this.session.close();
    this.log.info({ epoch: this.epoch }, 'leader lock released');
  }

  // A session that stops answering is as lost as one that ended: a partition that sends
  // no reset leaves the socket open while PostgreSQL frees the lock on its side.
  private check(): void {
    if (this.done || this.checking) return;
    this.checking = true;
    const timeout = this.clock.setTimeout(() => this.lose(new Error(`the lock session did not answer within ${this.limits.heartbeatTimeoutMs} ms`)), this.limits.heartbeatTimeoutMs);
    this.session.ping().then(
      () => undefined,
      (err: Error) => this.lose(err),
    ).finally(() => {
      this.clock.clearTimeout(timeout);
      this.checking = false;
    });
  }

  private lose(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearInterval(this.heartbeat);
    this.log.error({ epoch: this.epoch, err: err.message }, 'leader lock lost: this box steps down');
    void this.session.close();
    this.settle(err);
  }
}
