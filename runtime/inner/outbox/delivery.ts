// Delivery of the outbox (records.ts) to devices. aedes delivers a publish only to
// clients connected and subscribed at that moment, and a clean session forgets what it
// did not deliver, so the outbox tracks delivery itself, as dispatch does for
// department inboxes: a message is sent when it is written (if its device is
// listening) and again whenever the device subscribes to its down topic, oldest first;
// it leaves the store when the device's PUBACK of its packet arrives.
import type { Aedes, Client } from 'aedes';
import { topics } from '../../../devices/protocol.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import type { RunningBroker } from '../broker/broker.js';
import { watchSubscriptions, type Subscription } from '../broker/subscriptions.js';
import { envelopeOf, pendingFor, remove } from './records.js';

// Messages sent to one device in one pass (each waits in the broker until PUBACK); the
// rest follow once these are acknowledged.
export const OUTBOX_BATCH = 100;

export interface OutboxDeliveryOptions {
  store: Store;
  aedes: Aedes;
  broker: Pick<RunningBroker, 'sendTracked' | 'onPuback'>;
  log: Logger;
}


// What was sent on a device's current connection and is not acknowledged yet.
interface Inflight {
  client: Client;
  byPacket: Map<number, string>; // MQTT packet id -> outbox message id
  messages: Set<string>;
  more: boolean; // the last pass left messages in the store
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
      this.inflight.set(client.id, { client, byPacket: new Map(), messages: new Set(), more: false });
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
  deliver(device: string): void {
    if (this.closed || !this.inflight.has(device)) return;
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
    const entries = await pendingFor(this.opts.store, device, OUTBOX_BATCH);
    state.more = entries.length >= OUTBOX_BATCH;
    for (const entry of entries) {
      if (this.inflight.get(device) !== state) return; // disconnected meanwhile
      if (state.messages.has(entry.messageId)) continue;
      const sending = this.opts.broker.sendTracked(device, topics.down(device), Buffer.from(envelopeOf(entry)));
      if (!sending) return;
      state.messages.add(entry.messageId);
      state.byPacket.set(sending.packetId, entry.messageId);
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
    const removal = remove(this.opts.store, device, [messageId]).then(() => {
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
