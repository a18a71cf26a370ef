// The one clock of a process: what time it is and when to wake up. Both composition
// roots (startInner, startOuter) and the simulators take one, so that a test can run
// a day faster than real time (ScaledClock, with real sockets) or step it by hand
// (ManualClock, where nothing waits on a socket). Wall time agreed with another
// organisation (request and notification signatures) stays on Date.now: a test clock
// must not skew what the payment server checks.
export interface ClockTimer {
  unref(): unknown;
}

export interface Clock {
  now(): number; // milliseconds since the epoch, as Date.now
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
  setInterval(fn: () => void, ms: number): ClockTimer;
  clearInterval(timer: ClockTimer | undefined): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (t: ClockTimer | undefined) => clearTimeout(t as NodeJS.Timeout | undefined),
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (t: ClockTimer | undefined) => clearInterval(t as NodeJS.Timeout | undefined),
});

// Resolves after ms of this clock's time, or at once when the signal aborts.
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = clock.setTimeout(done, ms);
    function done(): void {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

// Time that runs `factor` times faster than real time, from the moment it is made:
// now() = start + real elapsed × factor, and a timer of ms fires after ms / factor of
// real time. Real sockets, real processes' I/O and this clock's timers stay in step,
// which a manual clock cannot give a test that waits on a socket.
// Clocks of several processes given the same factor and start agree on now().
export class ScaledClock implements Clock {
  readonly startMs: number;

  constructor(readonly factor: number, private readonly real: Clock = systemClock, startMs?: number) {
    if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`clock factor must be a positive number, got ${factor}`);
    if (startMs !== undefined && !Number.isFinite(startMs)) throw new RangeError(`clock start must be a number, got ${startMs}`);
    this.startMs = startMs ?? real.now();
  }

  now(): number {
    return Math.floor(this.startMs + (this.real.now() - this.startMs) * this.factor);
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.real.setTimeout(fn, ms / this.factor);
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    this.real.clearTimeout(timer);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.real.setInterval(fn, ms / this.factor);
  }

  clearInterval(timer: ClockTimer | undefined): void {
    this.real.clearInterval(timer);
  }
}

// A gateway process started by a simulation (`ferry sim hospital --speed N`) takes the
// simulation's scaled clock from its environment. Only simulations and tests set these:
// without them a side runs on the system clock.
export const CLOCK_SPEED_ENV = 'FERRY_CLOCK_SPEED';
export const CLOCK_START_ENV = 'FERRY_CLOCK_START_MS';

export function clockEnv(clock: ScaledClock): Record<string, string> {
  return { [CLOCK_SPEED_ENV]: String(clock.factor), [CLOCK_START_ENV]: String(clock.startMs) };
}

// An installed gateway (NODE_ENV=production, as the systemd units set) refuses one: a
// scaled clock there would shift every hold expiry, retention day and audit time.
export function clockFromEnv(env: NodeJS.ProcessEnv): Clock {
  const speed = env[CLOCK_SPEED_ENV];
  if (speed === undefined || speed === '') return systemClock;
  if (env.NODE_ENV === 'production') {
    throw new Error(`${CLOCK_SPEED_ENV} is set, but a production gateway runs on the system clock only; unset it`);
  }
  const start = env[CLOCK_START_ENV];
  return new ScaledClock(Number(speed), systemClock, start === undefined || start === '' ? undefined : Number(start));
}

interface ManualTimer extends ClockTimer {
  at: number;
  seq: number;
  fn: () => void;
  everyMs: number | undefined;
}

// Time that moves only when the test says so: advance(ms) fires, in order, every
// timer that falls due on the way, each seeing now() at its own due time.
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers = new Set<ManualTimer>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  get pending(): number {
    return this.timers.size;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer) this.timers.delete(timer as ManualTimer);
  }

  clearInterval(timer: ClockTimer | undefined): void {
    this.clearTimeout(timer);
  }

  // Moves time forward by ms, firing due timers; a timer set by a firing timer fires
  // too if it falls due within the same advance. Promises settled by a timer run
  // before the next one fires.
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward, got ${ms}`);
    const until = this.current + ms;
    for (;;) {
      const next = this.nextDue();
      if (!next || next.at > until) break;
      this.current = Math.max(this.current, next.at);
      if (next.everyMs === undefined) this.timers.delete(next);
      else next.at += next.everyMs;
      next.fn();
      await flushPromises();
    }
    this.current = until;
    await flushPromises();
  }

  private add(fn: () => void, ms: number, everyMs: number | undefined): ClockTimer {
    const timer: ManualTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, everyMs, unref: () => timer };
    this.timers.add(timer);
    return timer;
  }

  private nextDue(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }
}

// Lets the promise chains that a fired timer started run to their next wait.
async function flushPromises(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
