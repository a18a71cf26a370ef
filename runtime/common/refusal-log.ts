// Refusals (a CONNECT with a bad password, a publish the ACL forbids, a message the gap
// refuses) in the log without letting a flood of them drown it: identical refusals, by
// key, are counted for a window and written as one line with the count when the window
// closes. A kiosk stuck in a reconnect loop with an old password makes one line per
// window, not one per attempt. Windows run on the side's clock.
import type { Clock, ClockTimer } from './clock.js';
import type { Logger } from './logger.js';

export const REFUSAL_LOG_LIMITS = Object.freeze({
  // One line per key per window; a lone refusal is written this long after it happened.
  windowMs: 10_000,
  // Distinct keys counted at once; refusals past it share one line (a scan of many ids).
  keysMax: 1_000,
});
export type RefusalLogLimits = { readonly [K in keyof typeof REFUSAL_LOG_LIMITS]: number };

// What a line says besides the count: the first refusal's fields (device id or remote
// address, reason, topic). Never anything a device sent in a payload.
export type RefusalFields = Record<string, string | number | undefined>;

interface Window {
  msg: string;
  fields: RefusalFields;
  count: number;
  firstAt: number;
  lastAt: number;
  timer: ClockTimer;
}

const OVERFLOW_KEY = '\u0000overflow';

export class RefusalLog {
  private readonly windows = new Map<string, Window>();
  private readonly limits: RefusalLogLimits;
  private readonly level: 'info' | 'warn';

  // `level`: warn for the broker's refusals (a device that cannot log in), info for the
  // gap's (a desk paying a bill twice is refused, and nothing is wrong with the gateway).
  constructor(private readonly log: Logger, private readonly clock: Clock, o: { limits?: Partial<RefusalLogLimits>; level?: 'info' | 'warn' } = {}) {
    this.level = o.level ?? 'warn';
    this.limits = { ...REFUSAL_LOG_LIMITS, ...o.limits };
  }

  refused(key: string, fields: RefusalFields, msg: string): void {
    const now = this.clock.now();
    const open = this.windows.get(key);
    if (open) {
      open.count += 1;
      open.lastAt = now;
      return;
    }
    // The overflow line has a place of its own beyond keysMax.
    if (key !== OVERFLOW_KEY && this.windows.size - (this.windows.has(OVERFLOW_KEY) ? 1 : 0) >= this.limits.keysMax) {
      this.refused(OVERFLOW_KEY, { keysMax: this.limits.keysMax }, 'more kinds of refusal at once than are counted apart');
      return;
    }
    const timer = this.clock.setTimeout(() => this.write(key), this.limits.windowMs);
    timer.unref();
    this.windows.set(key, { msg, fields, count: 1, firstAt: now, lastAt: now, timer });
  }

  // Writes every open window now (at shutdown, so that no count is lost).
  flush(): void {
    for (const key of [...this.windows.keys()]) this.write(key);
  }

  private write(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.windows.delete(key);
    this.clock.clearTimeout(w.timer);
    this.log[this.level]({
      ...w.fields, count: w.count, windowMs: this.limits.windowMs,
      firstAt: new Date(w.firstAt).toISOString(), lastAt: new Date(w.lastAt).toISOString(),
    }, w.count === 1 ? w.msg : `${w.msg} (${w.count} times)`);
  }
}
