// The retained `slots/{dept}/{date}` snapshot that kiosks and desks read for the
// remaining counts (余号量). It is rebuilt from the store after every change, once the
// change is durable, one publish at a time per topic and coalesced, so the retained
// message is always the latest durable state and never a count that was not true.
import type { DepartmentsRule } from '../../rules/types.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import type { Logger } from '../../common/logger.js';
import type { SlotsSnapshot } from '../../../devices/protocol.js';
import { topics } from '../../../devices/protocol.js';
import type { Store } from '../store/store.js';
import { poolKey, remaining, type SlotPool } from './pools.js';
import { localDate } from './calendar.js';
import { KEYSPACE, key as storeKey } from '../store/keyspace.js';

// Pools read per page when the side starts.
const POOLS_PER_READ = 200;

export class SlotsPublisher {
  private readonly dirty = new Set<string>(); // `${dept}|${date}` waiting to be published
  private running: Promise<void> | null = null;
  private seq = 0;

  constructor(
    private readonly store: Store,
    private readonly rules: () => DepartmentsRule,
    private readonly publish: (topic: string, payload: string) => Promise<void>,
    private readonly log: Logger,
    private readonly day: HospitalDay,
  ) {}

  changed(pool: Pick<SlotPool, 'dept' | 'date'>): void {
    this.dirty.add(`${pool.dept}|${pool.date}`);
    this.running ??= this.drain().finally(() => {
      this.running = null;
      if (this.dirty.size > 0) this.changed(splitKey([...this.dirty][0]!));
    });
  }

  // After a restart the broker has no retained messages: publish every pool from today on.
  // Pools are kept for good (`pool!{dept}!{date}!{session}`), so a store of some years holds
  // many thousands: they are read a page at a time, and a department's past days are
  // skipped (dates sort as text), which also keeps a start from reading every pool ever.
  async republishAll(nowMs = Date.now()): Promise<void> {
    const today = localDate(nowMs, this.day);
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list<SlotPool>(KEYSPACE.pool.prefix, { limit: POOLS_PER_READ, ...(after !== undefined ? { after } : {}) });
      for (const [, pool] of page) if (pool.date >= today) this.dirty.add(`${pool.dept}|${pool.date}`);
      if (page.length < POOLS_PER_READ) break;
      const [lastKey, last] = page[page.length - 1]!;
      const skipTo = storeKey('pool', last.dept, today);
      after = last.date < today && skipTo > lastKey ? skipTo : lastKey;
    }
    for (const dept of this.rules().departments.keys()) this.dirty.add(`${dept}|${today}`);
    if (this.dirty.size > 0) this.changed(splitKey([...this.dirty][0]!));
  }

  // Resolves when everything changed so far has been published (for tests).
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // let a burst of changes coalesce
    while (this.dirty.size > 0) {
      const key = [...this.dirty][0]!;
      this.dirty.delete(key);
      try {
        await this.store.durable();
        const snapshot = await this.snapshot(splitKey(key));
        await this.publish(topics.slots(snapshot.dept, snapshot.date), JSON.stringify(snapshot));
      } catch (err) {
        this.log.error({ err: (err as Error).message, key }, 'slot snapshot not published');
      }
    }
  }

  async snapshot(pool: { dept: string; date: string }): Promise<SlotsSnapshot> {
    const sessions = await this.sessions(pool);
    return { dept: pool.dept, date: pool.date, seq: ++this.seq, sessions, ts: new Date().toISOString() };
  }

  // The sessions' counts as the snapshot states them, without publishing (the console).
  async sessions({ dept, date }: { dept: string; date: string }): Promise<SlotsSnapshot['sessions']> {
    const rules = this.rules();
    const department = rules.departments.get(dept);
    const sessions = await Promise.all(rules.sessions.map(async (session) => {
      const pool = await this.store.get<SlotPool>(poolKey(dept, date, session.name));
      const capacity = pool?.capacity ?? department?.capacity[session.name] ?? 0;
      const booked = (pool?.booked ?? 0) + (pool?.window ?? 0);
      const held = pool?.held ?? 0;
      return {
        session: session.name, capacity, booked, held,
        remaining: pool ? remaining(pool) : capacity, closed: pool?.closed ?? false, overCapacity: pool?.overCapacity ?? false,
      };
    }));
    return sessions;
  }
}

function splitKey(key: string): { dept: string; date: string } {
  const [dept, date] = key.split('|') as [string, string];
  return { dept, date };
}
