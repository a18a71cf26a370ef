// The state gauges, read at scrape time from the parts that own the state: the broker's
// connected clients, the journal, today's slot pools, the departments' dispatch counters,
// the audit chain's head. Nothing here keeps a second copy of any of it.
import type { Aedes } from 'aedes';
import type { DepartmentsRule, DeviceRule } from '../../rules/types.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import type { ProcessFigures } from '../../common/process-figures.js';
import type { AuditVerdict, Store } from '../store/store.js';
import { KEYSPACE } from '../store/keyspace.js';
import { MAX_LIST_ENTRIES } from '../store/limits.js';
import { poolKey, remaining, type SlotPool } from '../registration/pools.js';
import { counterKey, type DeptCounter } from '../dispatch/records.js';
import type { InnerMetrics } from './registry.js';
import type { OuterReport } from './outer-report.js';

export interface StateParts {
  store: Store;
  aedes: () => Aedes | undefined; // once the broker listens
  devices: () => ReadonlyMap<string, DeviceRule>;
  departments: () => DepartmentsRule;
  day: HospitalDay;
  now: () => number;
  process: ProcessFigures;
  outer: OuterReport;
}

// The last verification of the audit chain, as the store reported it (the metrics and
// the console read it).
export class LastVerify {
  verdict: { ok: boolean; atMs: number; entries: number; firstBroken?: AuditVerdict['firstBroken'] } | undefined;
  verified(verdict: AuditVerdict, atMs: number): void {
    this.verdict = { ok: verdict.ok, atMs, entries: verdict.entries, ...(verdict.firstBroken ? { firstBroken: verdict.firstBroken } : {}) };
  }
}

export function readState(metrics: InnerMetrics, p: StateParts, lastVerify: LastVerify): void {
  metrics.read('ferry_devices_connected', () => {
    const byRole = new Map<string, number>();
    for (const device of p.devices().values()) byRole.set(device.role, 0);
    const clients = (p.aedes() as unknown as { clients?: Record<string, { id: string; closed?: boolean }> } | undefined)?.clients ?? {};
    for (const client of Object.values(clients)) {
      const role = p.devices().get(client.id)?.role;
      if (role && !client.closed) byRole.set(role, (byRole.get(role) ?? 0) + 1);
    }
    return [...byRole].map(([role, value]) => ({ labels: { role }, value }));
  });

  // One read of the journal for both journal gauges of a scrape.
  let journal: Promise<{ open: number; oldestMs: number | undefined }> | undefined;
  const readJournal = () => (journal ??= (async () => {
    try {
      const rows = await p.store.list<string>(KEYSPACE.journal.prefix, { limit: MAX_LIST_ENTRIES });
      let oldestMs: number | undefined;
      for (const [, createdAt] of rows) {
        const at = Date.parse(createdAt);
        if (Number.isFinite(at) && (oldestMs === undefined || at < oldestMs)) oldestMs = at;
      }
      return { open: rows.length, oldestMs };
    } finally {
      setImmediate(() => (journal = undefined));
    }
  })());
  metrics.read('ferry_orders_open', async () => [{ labels: {}, value: (await readJournal()).open }]);
  metrics.read('ferry_orders_oldest_open_age_seconds', async () => {
    const { oldestMs } = await readJournal();
    return [{ labels: {}, value: oldestMs === undefined ? 0 : Math.max(0, (p.now() - oldestMs) / 1000) }];
  });

  const todaysPools = async () => {
    const rules = p.departments();
    const today = p.day.dayOf(p.now());
    const out: Array<{ dept: string; session: string; pool: SlotPool | undefined; capacity: number }> = [];
    for (const [dept, department] of rules.departments) {
      for (const session of rules.sessions) {
        const pool = await p.store.get<SlotPool>(poolKey(dept, today, session.name));
        out.push({ dept, session: session.name, pool, capacity: department.capacity[session.name] ?? 0 });
      }
    }
    return out;
  };
  metrics.read('ferry_slots_remaining', async () => (await todaysPools()).map(({ dept, session, pool, capacity }) => ({
    labels: { dept, session }, value: pool ? (pool.closed ? 0 : remaining(pool)) : capacity,
  })));
  metrics.read('ferry_slots_receiver_reported_today', async () => {
    const reported = new Map<string, number>();
    for (const { dept, pool } of await todaysPools()) reported.set(dept, Math.max(reported.get(dept) ?? 0, (pool?.version ?? 0) > 0 ? 1 : 0));
    return [...reported].map(([dept, value]) => ({ labels: { dept }, value }));
  });

  metrics.read('ferry_dispatch_backlog', async () => Promise.all([...p.departments().departments.keys()].map(async (dept) => ({
    labels: { dept }, value: (await p.store.get<DeptCounter>(counterKey(dept)))?.open ?? 0,
  }))));

  metrics.read('ferry_audit_entries', () => [{ labels: {}, value: p.store.auditHead.seq }]);
  metrics.read('ferry_audit_verify_ok', () => (lastVerify.verdict ? [{ labels: {}, value: lastVerify.verdict.ok ? 1 : 0 }] : []));
  metrics.read('ferry_audit_verify_timestamp_seconds', () => (lastVerify.verdict ? [{ labels: {}, value: lastVerify.verdict.atMs / 1000 }] : []));

  // One reading of each process per scrape: reading resets the event-loop histogram.
  let reading: ReturnType<ProcessFigures['read']> | undefined;
  const inner = () => {
    if (!reading) {
      reading = p.process.read();
      setImmediate(() => (reading = undefined));
    }
    return reading;
  };
  const sides = (pick: (r: { uptime: number; rss: number; lag: number }) => number) => {
    const i = inner();
    return [
      { labels: { side: 'inner' }, value: pick({ uptime: i.uptimeSeconds, rss: i.rssBytes, lag: i.eventLoopLagSeconds }) },
      ...p.outer.processSamples().map((o) => ({ labels: { side: 'outer' }, value: pick(o) })),
    ];
  };
  metrics.read('ferry_process_uptime_seconds', () => sides((r) => r.uptime));
  metrics.read('ferry_process_resident_memory_bytes', () => sides((r) => r.rss));
  metrics.read('ferry_process_event_loop_lag_seconds', () => sides((r) => r.lag));
}
