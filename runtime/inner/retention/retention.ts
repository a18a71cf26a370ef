// Retention: deletes what is older than gateway.yaml `retention` says, once a day and on
// demand (POST /v1/retention/run). Records are read page by page outside any
// transaction; each page is pruned in one transaction that reads every record again
// and asks its rule (kinds.ts) whether it may go, so an item that changed meanwhile
// is judged as it is now. The audit log is pruned last, behind a checkpoint entry
// (audit-prune.ts), so `ferry audit verify` still passes.
import type { Logger } from '../../common/logger.js';
import type { RetentionConfig } from '../../rules/types.js';
import type { Store } from '../store/store.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import { cutoffOf, PRUNE_RULES, rememberingRanges, type DayRanges, type PruneRule, type RetentionKind } from './kinds.js';
import { pruneAudit } from './audit-prune.js';
import { utcDayOf } from '../../common/hospital-day.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

// Records read per page, and so judged per transaction: with at most three keys
// deleted per record this stays well under the store's MAX_BATCH_OPS.
export const RETENTION_PAGE_RECORDS = 100;
export const RETENTION_EVERY_MS = 24 * 60 * 60 * 1000;
// The first run after a start: late enough not to slow the start, soon enough that a
// gateway restarted daily still prunes.
export const RETENTION_FIRST_RUN_MS = 10 * 60 * 1000;

export interface RetentionReport {
  at: string;
  pruned: Record<RetentionKind | 'audit', number>;
  auditCheckpointSeq: number | null;
}

export interface RetentionOptions {
  store: Store;
  config: RetentionConfig;
  log: Logger;
  day: HospitalDay; // what a retention day is
  now?: () => Date;
  clock?: Clock; // when the daily run fires (default: the system clock)
}

export class Retention {
  private readonly now: () => Date;
  private running: Promise<RetentionReport> | undefined;
  private timer: ClockTimer | undefined;

  constructor(private readonly opts: RetentionOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  // The daily timer; unref'd, so that it never keeps a stopping process alive.
  start(): void {
    const tick = (delayMs: number) => {
      this.timer = (this.opts.clock ?? systemClock).setTimeout(() => {
        this.run().catch((err: Error) => this.opts.log.error({ err: err.message }, 'retention run failed'));
        tick(RETENTION_EVERY_MS);
      }, delayMs);
      this.timer.unref();
    };
    tick(RETENTION_FIRST_RUN_MS);
  }

  close(): void {
    (this.opts.clock ?? systemClock).clearTimeout(this.timer);
  }

  // One run at a time: a second caller gets the run under way.
  run(): Promise<RetentionReport> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(): Promise<RetentionReport> {
    const now = this.now();
    const pruned = {} as RetentionReport['pruned'];
    const ranges = rememberingRanges(this.opts.day);
    for (const rule of PRUNE_RULES) pruned[rule.kind] = await this.pruneKind(rule, cutoffOf(now, rule.days(this.opts.config), this.opts.day), ranges);
    const audit = await pruneAudit(this.opts.store, cutoffOf(now, this.opts.config.auditDays, this.opts.day));
    pruned.audit = audit.pruned;
    const report: RetentionReport = { at: now.toISOString(), pruned, auditCheckpointSeq: audit.checkpointSeq };
    await this.opts.store.audit({ kind: 'retention.run', ...pruned });
    this.opts.log.info(report, 'retention run');
    return report;
  }

  private async pruneKind(rule: PruneRule, cutoffMs: number, ranges: DayRanges): Promise<number> {
    let after: string | undefined;
    let pruned = 0;
    const stopAt = rule.idLetter !== undefined ? firstKeyNotOlder(rule.prefix, rule.idLetter, cutoffMs) : undefined;
    for (;;) {
      const read = await this.opts.store.list<unknown>(rule.prefix, { limit: RETENTION_PAGE_RECORDS, ...(after ? { after } : {}) });
      const page = stopAt === undefined ? read : read.filter(([key]) => key < stopAt);
      if (page.length === 0) return pruned;
      after = page[page.length - 1]![0];
      // Most idempotency records of a month are too young to go: a page with none that may
      // costs no transaction (with its reads, batch and fsync), only the listing.
      const candidates = rule.mayGo ? page.filter(([, value]) => rule.mayGo!(value, cutoffMs)) : page;
      // The listing (a page parsed) and the transaction (whose reads the overlay and the
      // recent values often serve without leaving the turn) in separate turns.
      if (candidates.length > 0) await yieldTurn();
      if (candidates.length > 0) pruned += await this.opts.store.transact(async (tx) => {
        let n = 0;
        for (const [key] of candidates) {
          const value = await tx.get(key); // as it is now, not as the page read it
          if (value === undefined) continue;
          const keys = await rule.plan(tx, key, value, cutoffMs, ranges);
          if (!keys) continue;
          for (const k of keys) tx.del(k);
          n += 1;
        }
        return n;
      });
      if (page.length < RETENTION_PAGE_RECORDS) return pruned;
      // Bounded work per turn: a payment waiting on the event loop gets it between pages.
      await yieldTurn();
    }
  }
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

// The first key of ids made on a UTC day that starts at or after the cutoff: no record
// from there on can be older than the cutoff (see PruneRule.idLetter).
function firstKeyNotOlder(prefix: string, letter: string, cutoffMs: number): string {
  const dayMs = 86_400_000;
  const startOfDay = Math.floor(cutoffMs / dayMs) * dayMs;
  const first = startOfDay >= cutoffMs ? startOfDay : startOfDay + dayMs;
  return `${prefix}${letter}${utcDayOf(first).replaceAll('-', '')}`;
}
