// The console's one JSON snapshot (GET /v1/console): every figure read from the part
// that owns it at the moment of the request. The parts are handed in by inner.ts as
// ConsoleSources; this module only reads and shapes them, and keeps nothing of its own
// but the history of sampled points and the audit feed's recent events.
import type { Clock, ClockTimer } from '../../../common/clock.js';
import type { HospitalDay } from '../../../common/hospital-day.js';
import type { Logger } from '../../../common/logger.js';
import type { DepartmentsRule } from '../../../rules/types.js';
import type { DeviceEntry } from '../devices.js';
import type { SlotsSnapshot } from '../../../../devices/protocol.js';
import type { Store, AuditVerdict } from '../../store/store.js';
import type { Order } from '../../payments/order.js';
import { KEYSPACE } from '../../store/keyspace.js';
import { openPrefix } from '../../dispatch/records.js';
import { MAX_OPEN_PER_DEPT } from '../../dispatch/limits.js';
import { AuditFeed, type Refusal, type RuleReload } from './audit-feed.js';
import { CONSOLE_HISTORY_LIMITS, History, type HistoryPoint } from './history.js';

export const CONSOLE_LIMITS = Object.freeze({
  // Open orders counted exactly up to this; beyond it the console says "more than".
  openOrdersCountedMax: 10_000,
  // The newest orders shown in the payment flow.
  recentOrders: 8,
  // The audit tail is read this often on the side's clock, so that the running totals
  // keep up even when no page is open.
  feedEveryMs: 2_000,
  // The audit chain is verified when the side starts and then this often, so that the
  // console always has a recent verdict (the management API's verify counts too). The
  // walk reads the whole chain: once an hour is a small share of a disk's time.
  auditVerifyEveryMs: 3_600_000,
});

// The parts, as inner.ts has them.
export interface ConsoleSources {
  store: Store;
  day: HospitalDay;
  clock: Clock;
  log: Logger;
  devices(): DeviceEntry[]; // the roster, as GET /v1/devices lists it
  departments(): DepartmentsRule;
  messageTypes(): ReadonlySet<string>;
  outerConnected(): boolean; // the ferry channel to the outer side is up
  slots(pool: { dept: string; date: string }): Promise<SlotsSnapshot['sessions']>; // the retained snapshot's counts
  listening(dept: string): number; // workstations subscribed to the department's inbox
  startedAt: number;
}

export interface ConsoleSnapshot {
  at: string;
  startedAt: string;
  outer: { connected: boolean; breaker: string | null };
  // brokerRefusals: the roster's (connect, publish, subscribe refused); gapRefusals: what
  // the gap refused of its messages since the start, from the audit chain.
  devices: Array<{ id: string; role: string; dept: string | null; online: boolean; enabled: boolean; lastSeenAt: string | null; brokerRefusals: number; gapRefusals: number }>;
  payments: {
    now: HistoryPoint;
    openOrders: number;
    openOrdersMore: boolean;
    recent: Array<{ orderId: string; status: string; amount: number; currency: string; method: string; createdAt: string; updatedAt: string }>;
  };
  slots: { date: string; departments: Array<{ dept: string; name: string; sessions: SlotsSnapshot['sessions']; receiver: { at: string; version: number; device: string; date: string } | null }> };
  dispatch: Array<{ dept: string; name: string; waiting: number; waitingMore: boolean; listening: number }>;
  refusals: readonly Refusal[];
  audit: { head: { seq: number; hash: string }; lastVerify: { at: string; ok: boolean; entries: number; problem?: string } | null };
  firewall: { state: 'not checked here'; note: string };
  rules: { loadedAt: string; lastReload: RuleReload | null };
  history: { everyMs: number; points: readonly HistoryPoint[] };
}

export class ConsoleData {
  readonly feed: AuditFeed;
  readonly history: History;
  private feedTimer: ClockTimer | undefined;
  private verifyTimer: ClockTimer | undefined;

  constructor(private readonly s: ConsoleSources) {
    this.feed = new AuditFeed(s.store, s.messageTypes);
    this.history = new History(s.clock, () => this.reading(), (err) => s.log.warn({ err: err.message }, 'console history point not sampled'));
  }

  start(): void {
    const tick = () => void this.feed.catchUp().catch((err: Error) => this.s.log.warn({ err: err.message }, 'console audit feed not read'));
    tick();
    this.feedTimer = this.s.clock.setInterval(tick, CONSOLE_LIMITS.feedEveryMs);
    this.feedTimer.unref();
    this.history.start();
    void this.verify();
    this.verifyTimer = this.s.clock.setInterval(() => void this.verify(), CONSOLE_LIMITS.auditVerifyEveryMs);
    this.verifyTimer.unref();
  }

  close(): void {
    this.s.clock.clearInterval(this.feedTimer);
    this.s.clock.clearInterval(this.verifyTimer);
    this.history.close();
  }

  async snapshot(): Promise<ConsoleSnapshot> {
    await this.feed.catchUp();
    const s = this.s;
    const nowMs = s.clock.now();
    const today = s.day.dayOf(nowMs);
    const rules = s.departments();
    const departments = [...rules.departments.values()];
    const [now, open, recent, slots, dispatch] = await Promise.all([
      this.history.now(),
      this.openOrders(),
      s.store.list<Order>(KEYSPACE.order.prefix, { reverse: true, limit: CONSOLE_LIMITS.recentOrders }),
      Promise.all(departments.map(async (d) => {
        const sessions = await s.slots({ dept: d.code, date: today });
        const r = this.feed.receiverReport(d.code);
        return { dept: d.code, name: d.name, sessions, receiver: r ? { at: r.at, version: r.version, device: r.device, date: r.date } : null };
      })),
      Promise.all(departments.map(async (d) => {
        const waiting = (await s.store.list(openPrefix(d.code), { limit: MAX_OPEN_PER_DEPT })).length;
        return { dept: d.code, name: d.name, waiting, waitingMore: waiting >= MAX_OPEN_PER_DEPT, listening: s.listening(d.code) };
      })),
    ]);
    const devices = s.devices().map((d) => ({
      id: d.id, role: d.role, dept: d.dept, online: d.online, enabled: d.enabled, lastSeenAt: d.lastSeenAt,
      brokerRefusals: d.refusals.connect + d.refusals.publish + d.refusals.subscribe, gapRefusals: this.feed.gapRefusalsOf(d.id),
    }));
    return {
      at: new Date(nowMs).toISOString(),
      startedAt: new Date(s.startedAt).toISOString(),
      outer: { connected: s.outerConnected(), breaker: null },
      devices,
      payments: {
        now, openOrders: Math.min(open, CONSOLE_LIMITS.openOrdersCountedMax), openOrdersMore: open > CONSOLE_LIMITS.openOrdersCountedMax,
        recent: recent.map(([, o]) => ({ orderId: o.orderId, status: o.status, amount: o.amount, currency: o.currency, method: o.method, createdAt: o.createdAt, updatedAt: o.updatedAt })),
      },
      slots: { date: today, departments: slots },
      dispatch,
      refusals: this.feed.recentRefusals(),
      audit: { head: s.store.auditHead, lastVerify: verifyOf(s.store.lastVerify) },
      firewall: {
        state: 'not checked here',
        note: 'The gateway runs without root and does not run nft: check the firewall with `ferry firewall verify` (as root, or from monitoring).',
      },
      rules: { loadedAt: new Date(s.startedAt).toISOString(), lastReload: this.feed.lastReload() },
      history: { everyMs: CONSOLE_HISTORY_LIMITS.everyMs, points: this.history.recent() },
    };
  }

  // The journal holds exactly the orders that are not final (payments/order.ts).
  private async openOrders(): Promise<number> {
    const rows = await this.s.store.listRaw(KEYSPACE.journal.prefix, [], { limit: CONSOLE_LIMITS.openOrdersCountedMax + 1 });
    return rows.length;
  }

  private async reading() {
    await this.feed.catchUp();
    return { ...this.feed.totals, openOrders: await this.openOrders() };
  }

  private async verify(): Promise<void> {
    try {
      await this.s.store.verifyAudit(); // the store keeps the verdict
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'console: audit chain not verified');
    }
  }
}

function verifyOf(last: { at: string; verdict: AuditVerdict } | null): ConsoleSnapshot['audit']['lastVerify'] {
  if (!last) return null;
  const { verdict } = last;
  return {
    at: last.at, ok: verdict.ok, entries: verdict.entries,
    ...(verdict.firstBroken ? { problem: `entry ${verdict.firstBroken.seq}: ${verdict.firstBroken.reason}` } : {}),
  };
}
