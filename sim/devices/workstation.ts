// A doctor's workstation: reads its department's inbox (dept/{dept}/inbox, and its own
// down topic for a backlog redelivered when it connects), takes each message with
// dispatch.ack, and shows it only when the gateway says this workstation took it.
//
// The gateway is the arbiter: two workstations of one department may both receive a
// message, both acknowledge it, and exactly one is told `acked`; the other is told
// `duplicate` (or hears `dispatch.taken` first) and drops it. So "processed" here means
// "this department processed it here, and nowhere else".
import { EventEmitter } from 'node:events';
import { DeviceClient, DeviceClientError, isErrorReply, parseReply, type ConnectOptions } from '../../devices/client.js';
import { topics, type DispatchAckedBody, type DispatchMessageBody, type DispatchTakenBody, type Reply } from '../../devices/protocol.js';
import { assert } from '../../runtime/common/errors.js';

export const DEFAULT_MAX_ACKS_IN_FLIGHT = 8; // acks awaiting their answer at once
export const MAX_ACKS_IN_FLIGHT = 256;
export const DEFAULT_ACK_TIMEOUT_MS = 30_000; // across a gateway restart, resending the same request
export const MAX_ACK_ATTEMPTS = 5; // then the message is left to the gateway's redelivery
const UNTIL_POLL_MS = 10;
export const MAX_REMEMBERED = 20_000; // dispatch ids (and history entries) remembered

type State = 'waiting' | 'acking' | 'processed' | 'dropped';

export interface WorkstationOptions {
  dept: string;
  autoAck?: boolean; // default true; false: messages wait until resume()
  maxAcksInFlight?: number;
  ackTimeoutMs?: number;
}

export interface WorkstationEvents {
  received: [DispatchMessageBody]; // first copy of a message
  processed: [DispatchMessageBody, DispatchAckedBody]; // this workstation took it
  dropped: [string, string]; // dispatchId, the workstation that took it
  failed: [string, string]; // dispatchId, why the ack did not go through
}

export class WorkstationSim {
  readonly client: DeviceClient;
  readonly dept: string;
  readonly received: DispatchMessageBody[] = []; // first copies, in arrival order
  readonly processed: DispatchMessageBody[] = [];
  copies = 0; // copies that arrived again and were ignored
  private readonly events = new EventEmitter();
  private readonly states = new Map<string, State>();
  private readonly messages = new Map<string, DispatchMessageBody>();
  private readonly queue: string[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly maxInFlight: number;
  private readonly ackTimeoutMs: number;
  private inFlight = 0;
  private paused: boolean;
  private closed = false;

  private constructor(client: DeviceClient, opts: WorkstationOptions) {
    this.client = client;
    this.dept = opts.dept;
    this.paused = opts.autoAck === false;
    this.maxInFlight = opts.maxAcksInFlight ?? DEFAULT_MAX_ACKS_IN_FLIGHT;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    assert(this.maxInFlight >= 1 && this.maxInFlight <= MAX_ACKS_IN_FLIGHT, `maxAcksInFlight is 1..${MAX_ACKS_IN_FLIGHT}`);
    const inbox = topics.deptInbox(opts.dept);
    client.on('topic', (topic, payload) => {
      if (topic !== inbox) return;
      const reply = parseReply(payload);
      if (reply) this.onInbox(reply);
    });
    client.on('message', (reply) => this.onInbox(reply));
  }

  // Connects, then subscribes to the inbox: the gateway sends the backlog once the
  // subscription is in place, and again after every reconnect (MQTT.js resubscribes).
  static async connect(conn: ConnectOptions, opts: WorkstationOptions): Promise<WorkstationSim> {
    const client = await DeviceClient.connect(conn);
    const ws = new WorkstationSim(client, opts);
    try {
      await client.subscribe(topics.deptInbox(opts.dept));
    } catch (err) {
      await client.close();
      throw err;
    }
    return ws;
  }

  on<E extends keyof WorkstationEvents>(event: E, listener: (...args: WorkstationEvents[E]) => void): this {
    this.events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  // Holds acknowledgements (the doctor is away); messages keep arriving and wait.
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  stateOf(dispatchId: string): State | undefined {
    return this.states.get(dispatchId);
  }

  // Resolves once the predicate holds (checked every UNTIL_POLL_MS: it may depend on
  // other workstations too).
  async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new DeviceClientError('DEVICE_TIMEOUT', `${this.client.id}: not ${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, UNTIL_POLL_MS));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.close();
  }

  private onInbox(reply: Reply): void {
    if (reply.type === 'dispatch.message') this.onMessage(reply.body as unknown as DispatchMessageBody);
    else if (reply.type === 'dispatch.taken') this.onTaken(reply.body as unknown as DispatchTakenBody);
  }

  private onMessage(m: DispatchMessageBody): void {
    if (m.dept !== this.dept || typeof m.dispatchId !== 'string') return;
    if (this.states.has(m.dispatchId)) {
      this.copies += 1;
      return;
    }
    this.remember(m.dispatchId, 'waiting');
    this.messages.set(m.dispatchId, m);
    keep(this.received, m);
    this.queue.push(m.dispatchId);
    this.events.emit('received', m);
    this.pump();
  }

  private onTaken(t: DispatchTakenBody): void {
    if (t.ackedBy === this.client.id) return;
    const state = this.states.get(t.dispatchId);
    if (state === undefined || state === 'waiting') {
      // Taken elsewhere: a copy arriving later is ignored; one waiting here is dropped.
      const at = this.queue.indexOf(t.dispatchId);
      if (at >= 0) this.queue.splice(at, 1);
      this.drop(t.dispatchId, t.ackedBy);
    }
    // 'acking': the ack's answer says who took it.
  }

  private pump(): void {
    while (!this.paused && !this.closed && this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.inFlight += 1;
      this.states.set(id, 'acking');
      this.ack(id).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async ack(dispatchId: string): Promise<void> {
    let reply: Reply;
    try {
      // One request id per message: a resend after a lost answer (even from a restarted
      // gateway) is answered as the first time, so the outcome is never lost.
      reply = await this.client.request('dispatch.ack', { dispatchId }, { id: `ack.${dispatchId}`, timeoutMs: this.ackTimeoutMs });
    } catch (err) {
      if (this.closed) return;
      return this.retry(dispatchId, (err as Error).message);
    }
    if (isErrorReply(reply)) {
      // Not this workstation's to take (wrong department) or refused for now (rate):
      // forget it, so that a redelivered copy is tried again.
      this.forget(dispatchId);
      this.events.emit('failed', dispatchId, `${reply.body.code}: ${reply.body.message}`);
      return;
    }
    const body = reply.body as unknown as DispatchAckedBody;
    if (body.status === 'acked' && body.ackedBy === this.client.id) {
      this.states.set(dispatchId, 'processed');
      const m = this.messages.get(dispatchId)!;
      this.messages.delete(dispatchId);
      keep(this.processed, m);
      this.events.emit('processed', m, body);
    } else {
      this.drop(dispatchId, body.ackedBy);
    }
  }

  private retry(dispatchId: string, why: string): void {
    const n = (this.attempts.get(dispatchId) ?? 0) + 1;
    if (n >= MAX_ACK_ATTEMPTS) {
      this.forget(dispatchId);
      this.events.emit('failed', dispatchId, why);
      return;
    }
    this.attempts.set(dispatchId, n);
    this.states.set(dispatchId, 'waiting');
    this.queue.unshift(dispatchId);
  }

  private drop(dispatchId: string, by: string): void {
    this.remember(dispatchId, 'dropped');
    this.messages.delete(dispatchId);
    this.events.emit('dropped', dispatchId, by);
  }

  private forget(dispatchId: string): void {
    this.states.delete(dispatchId);
    this.messages.delete(dispatchId);
    this.attempts.delete(dispatchId);
  }

  // Bounded memory: the oldest finished ids are forgotten first (Map keeps insertion order).
  private remember(dispatchId: string, state: State): void {
    this.states.set(dispatchId, state);
    if (this.states.size <= MAX_REMEMBERED) return;
    for (const [id, s] of this.states) {
      if (s === 'processed' || s === 'dropped') {
        this.states.delete(id);
        break;
      }
    }
  }
}

// The history lists keep the latest MAX_REMEMBERED entries.
function keep<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_REMEMBERED) list.shift();
}
