// Delivery of the outbox (records.ts) to devices. aedes delivers a publish only to
// clients connected and subscribed at that moment, and a clean session forgets what it
// did not deliver, so the outbox tracks delivery itself, as dispatch does for
// department inboxes: a message is sent when it is written (if its device is
// listening) and again whenever the device subscribes to its down topic, oldest first;
// it leaves the store when the device's PUBACK of its packet arrives.
//
// A pass reads on from the last key this connection was sent (`sentThrough`): what is
// below it is in flight or gone, and a listing from the prefix's start would step over
// the deleted key of every message acknowledged since LevelDB last compacted them. A
// message posted under a lower key (the clock was set back) makes the next pass read
// from the start again, skipping what is in flight.
import type { Aedes, Client } from 'aedes';
import { topics } from '../../../devices/protocol.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import type { RunningBroker } from '../broker/broker.js';
import { watchSubscriptions, type Subscription } from '../broker/subscriptions.js';
import { envelopeOf, outboxKey, pendingFor, remove } from './records.js';
import type { OutboxCounts } from './counts.js';
import { compareKeys } from '../store/keys.js';

// Messages sent to one device in one pass (each waits in the broker until PUBACK); the
// rest follow once these are acknowledged.
export const OUTBOX_BATCH = 100;

export interface OutboxDeliveryOptions {
  store: Store;
  aedes: Aedes;
  broker: Pick<RunningBroker, 'sendTracked' | 'onPuback'>;
  log: Logger;
  counts?: OutboxCounts; // kept known across acknowledgements (counts.ts)
}


// What was sent on a device's current connection and is not acknowledged yet.
interface Inflight {
  client: Client;
  byPacket: Map<number, string>; // MQTT packet id -> outbox message id
  messages: Set<string>;
  more: boolean; // the last pass left messages in the store
  sentThrough: string | undefined; // the highest key sent on this connection
  fromStart: boolean; // a message was posted below sentThrough: the next pass reads all
}

export class OutboxDelivery {
  private readonly inflight = new Map<string, Inflight>(); // by device, while it listens
  private readonly queues = new Map<string, Promise<void>>();
  private readonly removals = new Set<Promise<void>>();
  private readonly detach: () => void;
  private closed = false;

  constructor(private readonly opts: OutboxDeliveryOptions) {
    const { aedes } = opts;
    const subscribed = (subs: Subscription[], client: Client) => {
      if (!client) return;
      const down = topics.down(client.id);
      // 128: the ACL refused it.
      if (!subs.some((s) => s.topic === down && s.qos !== 128)) return;
      // A new connection (or subscription): whatever was unacknowledged goes again.
      this.inflight.set(client.id, { client, byPacket: new Map(), messages: new Set(), more: false, sentThrough: undefined, fromStart: false });
      this.deliver(client.id);
    };
    const unsubscribed = (filters: string[], client: Client) => {
      if (client && filters.includes(topics.down(client.id))) this.forget(client);
    };
    const gone = (client: Client) => this.forget(client);
    const stopAcks = opts.broker.onPuback((client, packetId) => this.onPuback(client, packetId));
    const stopWatching = watchSubscriptions(aedes, { subscribed, unsubscribed, gone });
    this.detach = () => {
      stopAcks();
      stopWatching();
    };
  }

  // Something was written for this device (or it came back): send what it does not have.
  // `messageIds`: what was posted, if known.
  deliver(device: string, messageIds: readonly string[] = []): void {
    const state = this.inflight.get(device);
    if (this.closed || !state) return;
    const sentThrough = state.sentThrough;
    if (sentThrough !== undefined && messageIds.some((id) => compareKeys(outboxKey(device, id), sentThrough) <= 0)) state.fromStart = true;
    const tail = (this.queues.get(device) ?? Promise.resolve()).then(() => this.pass(device)).catch((err: Error) => {
      this.opts.log.warn({ device, err: err.message }, 'outbox delivery failed; the messages stay for the next connect');
    });
    this.queues.set(device, tail);
    void tail.finally(() => {
      if (this.queues.get(device) === tail) this.queues.delete(device);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.detach();
    await Promise.all([...this.queues.values(), ...this.removals]);
    this.inflight.clear();
  }

  private async pass(device: string): Promise<void> {
    // Only what is on disk is said: a crash must not take back a message a device has.
    await this.opts.store.durable();
    const state = this.inflight.get(device);
    if (!state) return;
    const after = state.fromStart ? undefined : state.sentThrough;
    state.fromStart = false;
    const entries = await pendingFor(this.opts.store, device, OUTBOX_BATCH, after);
    state.more = entries.length >= OUTBOX_BATCH;
    for (const entry of entries) {
      if (this.inflight.get(device) !== state) return; // disconnected meanwhile
      if (state.messages.has(entry.messageId)) continue;
      const sending = this.opts.broker.sendTracked(device, topics.down(device), Buffer.from(envelopeOf(entry)));
      if (!sending) return;
      state.messages.add(entry.messageId);
      state.byPacket.set(sending.packetId, entry.messageId);
      const key = outboxKey(device, entry.messageId);
      if (state.sentThrough === undefined || compareKeys(key, state.sentThrough) > 0) state.sentThrough = key;
      await sending.sent;
    }
  }

  private onPuback(client: Client, packetId: number): void {
    const state = this.inflight.get(client.id);
    if (!state || state.client !== client) return;
    const messageId = state.byPacket.get(packetId);
    if (messageId === undefined) return; // a direct answer, not an outbox message
    state.byPacket.delete(packetId);
    const device = client.id;
    const removal = remove(this.opts.store, device, [messageId], this.opts.counts).then(() => {
      state.messages.delete(messageId);
      if (state.messages.size === 0 && state.more) this.deliver(device);
    }, (err: Error) => {
      this.opts.log.warn({ device, messageId, err: err.message }, 'removing an acknowledged outbox message failed; it is sent again on the next connect');
    }).finally(() => this.removals.delete(removal));
    this.removals.add(removal);
  }

  private forget(client: Client): void {
    // A newer connection with the same id stays.
    if (client && this.inflight.get(client.id)?.client === client) this.inflight.delete(client.id);
  }
}
