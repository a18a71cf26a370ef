// Capped exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): spreads retries of many clients so that a recovering server
// is not hit by a synchronised wave. The jitter comes from the caller's seeded random
// source (runtime/common/random.ts), so that a test can repeat it.
import { sleepOn, systemClock, type Clock } from './clock.js';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random: () => number;
}

export function backoffDelayMs(attempt: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(opts.random() * ceiling);
}

export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return sleepOn(clock, ms, signal);
}
