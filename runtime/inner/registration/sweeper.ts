// Releases holds whose time is up, and holds whose payment outlived its grace period.
// Deadlines live in the store (regExpiry!, in time order), so a restart loses none.
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import type { Registrations } from './registrations.js';
import type { SlotPool } from './pools.js';
import { KEYSPACE } from '../store/keyspace.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

// How often deadlines are checked: a released slot is back within this long.
export const SWEEP_EVERY_MS = 500;
// Deadlines handled per sweep, so that one sweep never holds the store for long.
const SWEEP_BATCH_MAX = 500;

export class ExpirySweeper {
  private readonly timer: ClockTimer;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly registrations: Registrations,
    private readonly poolChanged: (pool: SlotPool) => void,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    private readonly clock: Clock = systemClock,
  ) {
    this.timer = clock.setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  sweep(): Promise<void> {
    this.sweeping ??= this.run().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  async close(): Promise<void> {
    this.clock.clearInterval(this.timer);
    await this.sweeping;
  }

  private async run(): Promise<void> {
    const nowMs = this.now().getTime();
    try {
      const due = await this.store.list<string>(KEYSPACE.regExpiry.prefix, { limit: SWEEP_BATCH_MAX });
      for (const [key, registrationId] of due) {
        const atMs = Number(key.split('!')[1]);
        if (atMs > nowMs) break;
        const pool = await this.store.transact((tx) => this.registrations.expire(tx, registrationId, atMs, this.now()));
        if (pool) this.poolChanged(pool);
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'expiry sweep failed; retried at the next tick');
    }
  }
}
