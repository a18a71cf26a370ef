// The console's one JSON snapshot (GET /v1/console): every figure read from the part
// that owns it at the moment of the request: the metrics registry (payments, refusals,
// open orders, the outer side's breaker and latency, dispatch backlogs), the device
// roster, the slot pools, the store's audit head and last verification. The parts are
// handed in by inner.ts as ConsoleSources; this module only reads and shapes them, and
// keeps nothing of its own but the sampled history and the audit feed's recent events.
import type { Clock, ClockTimer } from '../../../common/clock.js';
import type { HospitalDay } from '../../../common/hospital-day.js';
import type { Logger } from '../../../common/logger.js';
import type { DepartmentsRule } from '../../../rules/types.js';
import type { DeviceEntry } from '../devices.js';
import type { SlotsSnapshot } from '../../../../devices/protocol.js';
import type { Store } from '../../store/store.js';
import type { Order } from '../../payments/order.js';
import { KEYSPACE } from '../../store/keyspace.js';
import type { InnerMetrics } from '../../metrics/registry.js';
import type { LastVerify } from '../../metrics/state.js';
import { AuditFeed, type Refusal, type RuleReload } from './audit-feed.js';
import { CONSOLE_HISTORY_LIMITS, History, type HistoryPoint, type HistoryReading } from './history.js';
import { RegistryFigures } from './figures.js';

export const CONSOLE_LIMITS = Object.freeze({
  // The newest orders shown in the payment flow.
  recentOrders: 8,
  // The audit chain is verified when the side starts and then this often, so that the
  // console (and ferry_audit_verify_ok) always has a recent verdict; every verify of the
  // management API counts too. The walk reads the whole chain: once an hour is a small
  // share of a disk's time.
  auditVerifyEveryMs: 3_600_000,
});

// The parts, as inner.ts has them.
export interface ConsoleSources {
  store: Store;
  day: HospitalDay;
  clock: Clock;
  log: Logger;
  metrics: InnerMetrics;
  lastVerify: LastVerify; // the store's last verdict, as the metrics hold it
  devices(): DeviceEntry[]; // the roster, as GET /v1/devices lists it
  departments(): DepartmentsRule;
  messageTypes(): { has(type: string): boolean };
  outerConnected(): boolean; // the ferry channel to the outer side is up
  slots(pool: { dept: string; date: string }): Promise<SlotsSnapshot['sessions']>; // the retained snapshot's counts
  listening(dept: string): number; // workstations subscribed to the department's inbox
  startedAt: number;
  ha?: { epoch: string; holder: string }; // the active box of a pair (docs/ha.md)
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
    recent: Array<{ orderId: string; status: string; amount: number; currency: string; method: string; createdAt: string; updatedAt: string }>;
  };
  slots: { date: string; departments: Array<{ dept: string; name: string; sessions: SlotsSnapshot['sessions']; receiver: { at: string; version: number; device: string; date: string } | null }> };
  dispatch: Array<{ dept: string; name: string; waiting: number; listening: number }>;
  refusals: readonly Refusal[];
  audit: { head: { seq: number; hash: string }; lastVerify: { at: string; ok: boolean; entries: number; problem?: string } | null };
  firewall: { state: 'not checked here'; note: string };
  // null on a single box; a standby serves no console (its management API answers STANDBY).
  ha: { role: 'active'; epoch: string; holder: string } | null;
  rules: { loadedAt: string; lastReload: RuleReload | null };
  history: { everyMs: number; points: readonly HistoryPoint[] };
}

export class ConsoleData {
  readonly feed: AuditFeed;
  readonly history: History;
  private readonly figures: RegistryFigures;
  private verifyTimer: ClockTimer | undefined;

  constructor(private readonly s: ConsoleSources) {
    this.feed = new AuditFeed(s.store, s.messageTypes);
    this.figures = new RegistryFigures(s.metrics);
    this.history = new History(s.clock, () => this.reading(), (err) => s.log.warn({ err: err.message }, 'console history point not sampled'));
  }

  start(): void {
    void this.feed.catchUp().catch((err: Error) => this.s.log.warn({ err: err.message }, 'console audit feed not seeded'));
    this.history.start();
    void this.verify();
    this.verifyTimer = this.s.clock.setInterval(() => void this.verify(), CONSOLE_LIMITS.auditVerifyEveryMs);
    this.verifyTimer.unref();
  }

  close(): void {
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
    const [now, breaker, backlog, recent, slots] = await Promise.all([
      this.history.now(),
      this.breaker(),
      this.figures.byLabel('ferry_dispatch_backlog', 'dept'),
      s.store.list<Order>(KEYSPACE.order.prefix, { reverse: true, limit: CONSOLE_LIMITS.recentOrders }),
      Promise.all(departments.map(async (d) => {
        const sessions = await s.slots({ dept: d.code, date: today });
        const r = this.feed.receiverReport(d.code);
        return { dept: d.code, name: d.name, sessions, receiver: r ? { at: r.at, version: r.version, device: r.device, date: r.date } : null };
      })),
    ]);
    const dispatch = departments.map((d) => ({ dept: d.code, name: d.name, waiting: backlog.get(d.code) ?? 0, listening: s.listening(d.code) }));
    const devices = s.devices().map((d) => ({
      id: d.id, role: d.role, dept: d.dept, online: d.online, enabled: d.enabled, lastSeenAt: d.lastSeenAt,
      brokerRefusals: d.refusals.connect + d.refusals.publish + d.refusals.subscribe, gapRefusals: this.feed.gapRefusalsOf(d.id),
    }));
    return {
      at: new Date(nowMs).toISOString(),
      startedAt: new Date(s.startedAt).toISOString(),
      outer: { connected: s.outerConnected(), breaker },
      devices,
      payments: {
        now, openOrders: now.openOrders,
        recent: recent.map(([, o]) => ({ orderId: o.orderId, status: o.status, amount: o.amount, currency: o.currency, method: o.method, createdAt: o.createdAt, updatedAt: o.updatedAt })),
      },
      slots: { date: today, departments: slots },
      dispatch,
      refusals: this.feed.recentRefusals(),
      audit: { head: s.store.auditHead, lastVerify: verifyOf(s.lastVerify) },
      firewall: {
        state: 'not checked here',
        note: 'The gateway runs without root and does not run nft: check the firewall with `ferry firewall verify` (as root, or from monitoring).',
      },
      ha: s.ha ? { role: 'active', epoch: s.ha.epoch, holder: s.ha.holder } : null,
      rules: { loadedAt: new Date(s.startedAt).toISOString(), lastReload: this.feed.lastReload() },
      history: { everyMs: CONSOLE_HISTORY_LIMITS.everyMs, points: this.history.recent() },
    };
  }

  // The breaker's state from the outer side's last fresh report, or null without one.
  private async breaker(): Promise<string | null> {
    const states = await this.figures.series('ferry_payment_server_breaker_state');
    const current = states.find((v) => v.value === 1);
    return current ? String(current.labels.state) : null;
  }

  // One point's figures, from the registry (and the roster for the broker's refusals).
  private async reading(): Promise<HistoryReading> {
    const f = this.figures;
    const [paid, failed, gapRefused, openOrders, sum, count] = await Promise.all([
      f.total('ferry_payments_total', { status: 'succeeded' }),
      f.total('ferry_payments_total', { status: 'failed' }),
      f.total('ferry_gap_refused_total'),
      f.total('ferry_orders_open'),
      f.total('ferry_payment_server_request_duration_seconds', { operation: 'payment' }, '_sum'),
      f.total('ferry_payment_server_request_duration_seconds', { operation: 'payment' }, '_count'),
    ]);
    const brokerRefused = this.s.devices().reduce((n, d) => n + d.refusals.connect + d.refusals.publish + d.refusals.subscribe, 0);
    return {
      paid: paid ?? 0, failed: failed ?? 0,
      latency: sum === undefined || count === undefined ? null : { msSum: sum * 1000, count },
      refusals: (gapRefused ?? 0) + brokerRefused,
      openOrders: openOrders ?? 0,
    };
  }

  private async verify(): Promise<void> {
    try {
      await this.s.store.verifyAudit(); // the store keeps the verdict
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'console: audit chain not verified');
    }
  }
}

function verifyOf(last: LastVerify): ConsoleSnapshot['audit']['lastVerify'] {
  const v = last.verdict;
  if (!v) return null;
  return {
    at: new Date(v.atMs).toISOString(), ok: v.ok, entries: v.entries,
    ...(v.firstBroken ? { problem: `entry ${v.firstBroken.seq}: ${v.firstBroken.reason}` } : {}),
  };
}
