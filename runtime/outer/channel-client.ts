// The outer side's end of the ferry channel: connects to the inner side's socket and,
// while running, reconnects with capped backoff whenever the connection is lost (the
// inner side restarts, the supervisor restarts it, the socket is not there yet).
import { EventEmitter } from 'node:events';
import { backoffDelayMs, sleep } from '../common/backoff.js';
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { systemRandom, type Random } from '../common/random.js';
import { connectChannel, type ChannelConnection } from '../channel/connection.js';
import type { ChannelRecord } from '../channel/records.js';

// Reconnect delays. The socket is a file on this box: a failed connect costs next to
// nothing, and the inner side, restarted after a crash, is back within a second. So the
// client keeps trying often (at most a second apart, with jitter) for as long as it is
// away; a longer cap would only add to the time a kiosk waits after the inner side is up.
export const CHANNEL_RECONNECT_BASE_MS = 50;
export const CHANNEL_RECONNECT_MAX_MS = 1_000;

export interface ChannelClientOptions {
  random?: Random; // the backoff's jitter (seeded from the system when not given)
  clock?: Clock; // the reconnect waits and the connection's heartbeats
  wait?: (ms: number, signal: AbortSignal) => Promise<void>; // tests record the delays
}

export interface ChannelClientEvents {
  record: [ChannelRecord];
  connected: [];
  disconnected: [];
}

export class ChannelClient extends EventEmitter<ChannelClientEvents> {
  private connection: ChannelConnection | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(private readonly socketPath: string, private readonly log: Logger, private readonly opts: ChannelClientOptions = {}) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom();
  }

  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  get connected(): boolean {
    return this.connection?.isReady ?? false;
  }

  // False when the inner side is not connected: the record is not queued, because the
  // inner side resends what it still needs after reconnecting.
  send(record: ChannelRecord): boolean {
    return this.connection?.send(record) ?? false;
  }

  async close(): Promise<void> {
    this.stopping.abort();
    this.connection?.close();
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      let connection: ChannelConnection;
      try {
        connection = await connectChannel(this.socketPath, this.log, this.clock);
      } catch (err) {
        if (attempt === 0) this.log.warn({ err: (err as Error).message, socket: this.socketPath }, 'inner side not reachable; retrying');
        const delayMs = backoffDelayMs(attempt++, { baseMs: CHANNEL_RECONNECT_BASE_MS, maxMs: CHANNEL_RECONNECT_MAX_MS, random: this.random });
        await (this.opts.wait ?? ((ms, signal) => sleep(ms, signal, this.clock)))(delayMs, this.stopping.signal);
        continue;
      }
      attempt = 0;
      await this.serve(connection);
    }
  }

  // Resolves when the connection ends.
  private serve(connection: ChannelConnection): Promise<void> {
    if (this.stopping.signal.aborted || !connection.isReady) {
      connection.close();
      return Promise.resolve();
    }
    this.connection = connection;
    this.log.info('connected to the inner side');
    connection.on('record', (record) => this.emit('record', record));
    this.emit('connected');
    return new Promise((resolve) => {
      connection.once('close', () => {
        this.connection = undefined;
        this.log.info('disconnected from the inner side');
        this.emit('disconnected');
        resolve();
      });
    });
  }
}
