// What the notification endpoint refused, told to the inner side's audit chain and to
// the log, in counts rather than one line per request: a host that floods the endpoint
// gets at most one record and one log line a second per reason, whatever its rate.
//
// A refusal is reported at once when its reason and address have not been reported in
// the last window; later ones are counted and reported together when the window is
// over (flush). Records wait in a bounded outbox while the channel is down and go when
// it is back. The outer side stores nothing, so a restart loses what is still waiting:
// at most a window's counts, or those of an outage of the channel.
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';
import { assert } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { NotifyRefusalReason, NotifyRefusedRecord } from '../../channel/records.js';

// At most one report per reason and address per window.
export const REFUSAL_WINDOW_MS = 1_000;
// Distinct reason-and-address tallies held at once (counting, or waiting for the
// channel). Past it, further addresses are counted under remote `*`, one per reason,
// so that a flood from many addresses costs bounded memory and still loses no count.
export const REFUSAL_TALLIES_MAX = 256;

export interface Refusal {
  // REFUSED (the inner side said no) is only logged: the inner side audits it itself.
  reason: NotifyRefusalReason | 'REFUSED';
  remote: string;
  orderId?: string;
  // The inner side already wrote this refusal to its audit chain: log it, send nothing.
  audited?: boolean;
}

interface Tally {
  reason: NotifyRefusalReason | 'REFUSED';
  remote: string;
  audited: boolean;
  at: number; // the first refusal counted, ms since the epoch
  count: number;
  orderId: string | undefined | null; // null: the refusals named different orders
}

export interface RefusalReporterOptions {
  send: (record: NotifyRefusedRecord) => boolean;
  log: Logger;
  now: () => number;
  clock?: Clock; // the flush timer's
  windowMs?: number;
  talliesMax?: number;
}

export class RefusalReporter {
  private readonly counting = new Map<string, Tally>(); // counted since the key's last report
  private readonly reportedAt = new Map<string, number>(); // when each key was last reported
  private readonly outbox = new Map<string, Tally>(); // reported, not yet across the channel
  private readonly windowMs: number;
  private readonly talliesMax: number;
  private timer: ClockTimer | undefined;

  constructor(private readonly opts: RefusalReporterOptions) {
    this.windowMs = opts.windowMs ?? REFUSAL_WINDOW_MS;
    this.talliesMax = opts.talliesMax ?? REFUSAL_TALLIES_MAX;
    assert(this.windowMs > 0, 'refusal window is positive');
    assert(this.talliesMax >= 1, 'at least one refusal tally');
  }

  // Flushes every window of the injected clock (the real one unless a test runs faster).
  start(): void {
    this.timer ??= (this.opts.clock ?? systemClock).setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    (this.opts.clock ?? systemClock).clearInterval(this.timer);
    this.timer = undefined;
  }

  refused(r: Refusal): void {
    const now = this.opts.now();
    const fresh: Tally = { reason: r.reason, remote: r.remote, audited: r.audited === true, at: now, count: 1, orderId: r.orderId };
    const key = keyOf(fresh);
    const counting = this.counting.get(key);
    if (counting) {
      merge(counting, fresh);
      return;
    }
    const last = this.reportedAt.get(key);
    // Many new addresses at once are counted rather than each reported at once.
    const room = last !== undefined || this.reportedAt.size < this.talliesMax;
    if (room && (last === undefined || now - last >= this.windowMs)) {
      this.report(key, fresh, now);
      this.drain();
      return;
    }
    admit(this.counting, key, fresh, this.talliesMax);
  }

  // Reports the tallies whose window is over (all of them when closing) and sends what
  // waits for the channel.
  flush(all = false): void {
    const now = this.opts.now();
    for (const [key, tally] of [...this.counting]) {
      if (!all && now - (this.reportedAt.get(key) ?? -Infinity) < this.windowMs) continue;
      this.counting.delete(key);
      this.report(key, tally, now);
    }
    for (const [key, at] of [...this.reportedAt]) {
      if (now - at >= this.windowMs && !this.counting.has(key)) this.reportedAt.delete(key);
    }
    this.drain();
  }

  // Sends what waits, oldest first, until the channel refuses.
  drain(): void {
    for (const [key, tally] of [...this.outbox]) {
      if (!this.opts.send(recordOf(tally))) return;
      this.outbox.delete(key);
    }
  }

  // Refusals counted or waiting, for status and tests.
  get waiting(): number {
    let n = 0;
    for (const t of this.outbox.values()) n += t.count;
    return n;
  }

  private report(key: string, tally: Tally, now: number): void {
    this.reportedAt.set(key, now);
    const { reason, remote, count } = tally;
    this.opts.log.warn({ reason, remote, count, ...(typeof tally.orderId === 'string' ? { orderId: tally.orderId } : {}) }, 'notification refused');
    if (tally.audited) return;
    const waiting = this.outbox.get(key);
    if (waiting) merge(waiting, tally);
    else admit(this.outbox, key, { ...tally }, this.talliesMax);
  }
}

function keyOf(t: Pick<Tally, 'audited' | 'reason' | 'remote'>): string {
  return `${t.audited ? 'a' : 'r'}|${t.reason}|${t.remote}`;
}

// Adds a tally under its key, or under its reason's `*` key when the map is full.
function admit(map: Map<string, Tally>, key: string, tally: Tally, max: number): void {
  if (map.size < max) {
    map.set(key, tally);
    return;
  }
  const overflow = { ...tally, remote: '*' };
  const overflowKey = keyOf(overflow);
  const existing = map.get(overflowKey);
  if (existing) merge(existing, overflow);
  else map.set(overflowKey, overflow);
}

function merge(into: Tally, more: Tally): void {
  into.count += more.count;
  into.at = Math.min(into.at, more.at);
  if (into.orderId !== more.orderId) into.orderId = null;
}

function recordOf(t: Tally): NotifyRefusedRecord {
  assert(t.reason !== 'REFUSED', 'the inner side audits its own refusals');
  return {
    // A count past the record's bound (a billion) is stated as the bound.
    k: 'notify.refused', reason: t.reason, remote: t.remote, at: t.at, count: Math.min(t.count, 1_000_000_000),
    ...(typeof t.orderId === 'string' ? { orderId: t.orderId } : {}),
  };
}
