// Delivery of department inboxes to workstations (invariant 4 of docs/design.md). The store
// holds every message until a workstation acknowledges it; this module only decides
// when to send, and never loses anything by failing to: whatever is not sent now is
// sent when a workstation of the department subscribes, or by the next sweep.
//
// Per department, every send goes through one queue, so a workstation sees messages
// in seq order: new ones on dept/{dept}/inbox, and on connect the backlog on its own
// down topic first (it is not re-sent to the workstations that already have it).
import { randomUUID } from 'node:crypto';
import type { Aedes } from 'aedes';
import { PROTOCOL_VERSION, topics, type DispatchTakenBody } from '../../../devices/protocol.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import { markDelivered, messageBody, openMessages } from './inbox.js';
import { MAX_PENDING_DELIVERED, MAX_PENDING_PUBLISHES_PER_DEPT, MAX_REDELIVERY_BATCH, SWEEP_MS_MAX, SWEEP_MS_MIN } from './limits.js';
import type { DispatchRecord } from './records.js';
import { Subscribers } from './subscribers.js';
import { systemClock, type Clock, type ClockTimer } from '../../common/clock.js';

export interface DispatcherOptions {
  store: Store;
  aedes: Aedes;
  publish(topic: string, payload: string, opts: { qos: 1 }): Promise<void>;
  log: Logger;
  redeliverAfterMs: number;
  now?: () => number;
  clock?: Clock; // the side's timers (default: the system clock)
  onRedelivered?: (dept: string, count: number) => void; // the metrics' redelivery count
}

interface DeptQueue { tail: Promise<void>; pending: number }

export class Dispatcher {
  private readonly opts: DispatcherOptions;
  private readonly now: () => number;
  private readonly subscribers: Subscribers;
  private readonly queues = new Map<string, DeptQueue>();
  // When each open message was last sent; in memory only: after a restart everything
  // open counts as never sent, which is what a restart should mean.
  private readonly lastSent = new Map<string, number>();
  private redeliverAfterMs: number;
  private sweepTimer: ClockTimer | undefined;
  private readonly clock: Clock;
  private readonly delivered = new Set<string>(); // to be marked delivered
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(opts: DispatcherOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.now = opts.now ?? (() => this.clock.now());
    this.redeliverAfterMs = opts.redeliverAfterMs;
    this.subscribers = new Subscribers(opts.aedes, (dept, clientId) => this.onSubscribed(dept, clientId));
    this.scheduleSweep();
  }

  // Workstations listening to a department's inbox now.
  listening(dept: string): number {
    return this.subscribers.count(dept);
  }

  // Reloaded triage.yaml.
  setRedeliverAfter(ms: number): void {
    this.redeliverAfterMs = ms;
  }

  // A message was durably queued: send it to the department's inbox topic.
  queued(record: DispatchRecord): void {
    this.enqueue(record.dept, () => this.sendAll([record], topics.deptInbox(record.dept), false), true);
  }

  // A workstation took a message: the others drop it.
  taken(record: DispatchRecord): void {
    this.lastSent.delete(record.dispatchId);
    const body: DispatchTakenBody = { dispatchId: record.dispatchId, dept: record.dept, seq: record.seq, ackedBy: record.ackedBy! };
    this.enqueue(record.dept, () => this.opts.publish(topics.deptInbox(record.dept), envelope(randomUUID(), 'dispatch.taken', body), { qos: 1 }), false);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.sweepTimer);
    this.subscribers.close();
    await Promise.all([...this.queues.values()].map((q) => q.tail));
    while (this.flushing) await this.flushing;
  }

  // The subscription is in place: everything open goes to this workstation alone.
  private onSubscribed(dept: string, clientId: string): void {
    this.enqueue(dept, async () => {
      const open = await this.openNow(dept);
      await this.sendAll(open, topics.down(clientId), true);
    }, false);
  }

  private async sweep(): Promise<void> {
    const due = this.now() - this.redeliverAfterMs;
    await Promise.all(this.subscribers.depts().map((dept) => new Promise<void>((resolve) => {
      this.enqueue(dept, async () => {
        const overdue = await this.openNow(dept, (id) => (this.lastSent.get(id) ?? 0) <= due);
        await this.sendAll(overdue, topics.deptInbox(dept), true);
      }, false, resolve);
    })));
  }

  // What is open, read only after everything committed is on disk: a message must
  // never reach a workstation before the gateway could lose it.
  private async openNow(dept: string, wanted?: (dispatchId: string) => boolean): Promise<DispatchRecord[]> {
    await this.opts.store.durable();
    return openMessages(this.opts.store, dept, MAX_REDELIVERY_BATCH, wanted);
  }

  private async sendAll(records: DispatchRecord[], topic: string, redelivery: boolean): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      await this.opts.publish(topic, envelope(r.dispatchId, 'dispatch.message', messageBody(r, redelivery)), { qos: 1 });
      this.lastSent.set(r.dispatchId, this.now());
    }
    const dept = records[0]!.dept;
    if (redelivery) this.opts.onRedelivered?.(dept, records.length);
    if (this.subscribers.count(dept) > 0) {
      for (const r of records) if (r.status === 'queued' && this.delivered.size < MAX_PENDING_DELIVERED) this.delivered.add(r.dispatchId);
      this.flushDelivered();
    }
  }

  // The 'delivered' status is information for the query side, not part of delivery:
  // it is written in batches off the send queue, so that sending never waits for a disk.
  private flushDelivered(): void {
    if (this.flushing || this.delivered.size === 0) return;
    const ids = [...this.delivered];
    this.delivered.clear();
    this.flushing = markDelivered(this.opts.store, ids, new Date(this.now()))
      .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'marking dispatches delivered failed'))
      .finally(() => {
        this.flushing = undefined;
        this.flushDelivered();
      });
  }

  // One queue per department keeps its sends in order. `droppable` work (the first send
  // of a new message) is skipped when the queue is full: the message waits in the store.
  private enqueue(dept: string, work: () => Promise<void>, droppable: boolean, done?: () => void): void {
    let queue = this.queues.get(dept);
    if (!queue) this.queues.set(dept, (queue = { tail: Promise.resolve(), pending: 0 }));
    if (this.closed || (droppable && queue.pending >= MAX_PENDING_PUBLISHES_PER_DEPT)) {
      done?.();
      return;
    }
    const q = queue;
    q.pending += 1;
    q.tail = q.tail.then(work).catch((err: Error) => {
      this.opts.log.warn({ dept, err: err.message }, 'dispatch send failed; the message stays queued');
    }).finally(() => {
      q.pending -= 1;
      done?.();
    });
  }

  private scheduleSweep(): void {
    if (this.closed) return;
    const ms = Math.min(SWEEP_MS_MAX, Math.max(SWEEP_MS_MIN, Math.floor(this.redeliverAfterMs / 2)));
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep().catch((err: Error) => this.opts.log.error({ err: err.message }, 'dispatch sweep failed')).finally(() => this.scheduleSweep());
    }, ms);
  }
}

function envelope(id: string, type: string, body: object): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, id, type, ts: new Date().toISOString(), body });
}
