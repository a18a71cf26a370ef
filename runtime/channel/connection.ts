// One end of the ferry channel over a Unix domain socket. Both ends say hello first;
// anything malformed, oversized, of an undeclared kind or in the wrong direction ends
// the connection at once rather than being skipped (a confused peer is not trusted).
import net from 'node:net';
import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { encodeFrame, FrameDecoder } from './framing.js';
import { CHANNEL_VERSION, checkRecord, parseRecord, RecordError, type ChannelRecord } from './records.js';
import { systemClock, type Clock, type ClockTimer } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { listenOn } from '../common/listen.js';

export type Side = 'inner' | 'outer';

// A peer silent for longer than this is taken as gone: heartbeats go every third of it.
export const CHANNEL_SILENCE_MS_MAX = 15_000;
// Records that arrive before anyone listens (the peer may send right after the hello, in
// the same read) wait for the first listener; past this many the peer is misbehaving.
export const CHANNEL_EARLY_RECORDS_MAX = 10_000;

export interface ChannelConnectionEvents {
  record: [ChannelRecord];
  ready: [];
  close: [Error | undefined];
}

export class ChannelConnection extends EventEmitter<ChannelConnectionEvents> {
  readonly self: Side;
  readonly peer: Side;
  private readonly socket: net.Socket;
  private readonly decoder = new FrameDecoder();
  private readonly log: Logger;
  private greeted = false;
  private closed = false;
  private lastHeardMs: number;
  private readonly heartbeat: ClockTimer;
  private early: ChannelRecord[] = [];
  private corked = false;

  constructor(socket: net.Socket, self: Side, log: Logger, private readonly clock: Clock = systemClock) {
    super();
    this.lastHeardMs = clock.now();
    this.self = self;
    this.peer = self === 'inner' ? 'outer' : 'inner';
    this.socket = socket;
    this.log = log;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.close(err));
    socket.on('close', () => this.close());
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'record' && this.early.length > 0) queueMicrotask(() => this.flushEarly());
    });
    this.heartbeat = clock.setInterval(() => this.tick(), CHANNEL_SILENCE_MS_MAX / 3);
    this.heartbeat.unref();
    this.write({ k: 'hello', side: self, version: CHANNEL_VERSION });
  }

  get isReady(): boolean {
    return this.greeted && !this.closed;
  }

  // Sends a record after checking it against what the peer accepts, so that a bug on
  // this side shows up here rather than as a dropped connection there.
  send(record: ChannelRecord): boolean {
    if (!this.isReady) return false;
    checkRecord(record, this.peer);
    return this.write(record);
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearInterval(this.heartbeat);
    this.flush(); // what was sent before close goes out, as it would have uncorked
    this.socket.destroy();
    if (err) this.log.warn({ err: err.message }, 'channel connection closed on error');
    this.emit('close', err);
  }

  // Records sent in one turn of the event loop (a group commit's orders, the outcomes
  // of every answer read in one poll) leave in one writev: the socket is corked at the
  // first and uncorked once the loop has run the I/O callbacks of this turn.
  private write(record: ChannelRecord): boolean {
    if (this.closed) return false;
    const frame = encodeFrame(record);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => this.flush());
    }
    this.socket.write(frame);
    return true;
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  private tick(): void {
    if (this.clock.now() - this.lastHeardMs > CHANNEL_SILENCE_MS_MAX) {
      this.close(new Error(`no record from the ${this.peer} side for ${CHANNEL_SILENCE_MS_MAX} ms`));
      return;
    }
    if (this.greeted) this.write({ k: 'heartbeat', ts: this.clock.now() });
  }

  private onData(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (this.closed) return;
        this.onRecord(parseRecord(frame, this.self));
      }
    } catch (err) {
      this.close(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onRecord(record: ChannelRecord): void {
    this.lastHeardMs = this.clock.now();
    if (!this.greeted) {
      if (record.k !== 'hello') throw new RecordError(`expected hello, got ${record.k}`);
      if (record.side !== this.peer) throw new RecordError(`hello from ${record.side}, expected ${this.peer}`);
      if (record.version !== CHANNEL_VERSION) throw new RecordError(`channel version ${record.version}, expected ${CHANNEL_VERSION}`);
      this.greeted = true;
      this.emit('ready');
      return;
    }
    if (record.k === 'hello') throw new RecordError('second hello');
    if (record.k === 'heartbeat') return;
    if (this.listenerCount('record') === 0 || this.early.length > 0) {
      // Whoever awaited 'ready' attaches its listener a tick later: keep, don't drop.
      if (this.early.length >= CHANNEL_EARLY_RECORDS_MAX) throw new RecordError(`more than ${CHANNEL_EARLY_RECORDS_MAX} records before anyone listened`);
      this.early.push(record);
      return;
    }
    this.emit('record', record);
  }

  private flushEarly(): void {
    while (this.early.length > 0 && this.listenerCount('record') > 0 && !this.closed) {
      this.emit('record', this.early.shift()!);
    }
  }
}

// The inner side listens; the outer side connects (and reconnects). The socket file is
// made owner-only: on the gateway both processes run as the ferry user.
export async function listenChannel(path: string, log: Logger, onConnection: (c: ChannelConnection) => void, clock: Clock = systemClock): Promise<net.Server> {
  removeStaleSocket(path);
  const server = net.createServer((socket) => onConnection(new ChannelConnection(socket, 'inner', log, clock)));
  await listenOn(server, { path }, 'channel socket');
  fs.chmodSync(path, 0o600);
  return server;
}

export function connectChannel(path: string, log: Logger, clock: Clock = systemClock): Promise<ChannelConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const connection = new ChannelConnection(socket, 'outer', log, clock);
      const fail = (err?: Error) => reject(err ?? new Error('channel closed during hello'));
      connection.once('close', fail);
      connection.once('ready', () => {
        connection.off('close', fail);
        resolve(connection);
      });
    });
  });
}

function removeStaleSocket(path: string): void {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
