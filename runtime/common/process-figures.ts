// A process's own figures, the same on both sides: how long the side has run (on its
// clock), its resident memory, and how late its event loop has been turning.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Clock } from './clock.js';

// The event loop's delay is sampled this often; finer costs more than it tells.
const LAG_RESOLUTION_MS = 20;

export interface ProcessReading {
  uptimeSeconds: number;
  rssBytes: number;
  eventLoopLagSeconds: number; // the 99th percentile since the previous reading
}

export class ProcessFigures {
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private readonly startedAt: number;

  constructor(private readonly clock: Clock) {
    this.startedAt = clock.now();
    this.lag.enable();
  }

  read(): ProcessReading {
    const p99 = this.lag.count > 0 ? this.lag.percentile(99) : 0;
    this.lag.reset();
    // The histogram's floor is its resolution: only what lies beyond it is lag.
    const lagNs = Math.max(0, p99 - LAG_RESOLUTION_MS * 1e6);
    return {
      uptimeSeconds: Math.max(0, (this.clock.now() - this.startedAt) / 1000),
      rssBytes: process.memoryUsage.rss(),
      eventLoopLagSeconds: lagNs / 1e9,
    };
  }

  close(): void {
    this.lag.disable();
  }
}
