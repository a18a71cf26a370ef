// Everything the gateway says on a device's down topic goes through here: the direct
// answer to a request (the gap's, and a payment's first answer), and the outbox's
// messages. The gap and the order book both hold this object; neither holds the other.
import { randomUUID } from 'node:crypto';
import { PROTOCOL_VERSION, topics } from '../../../devices/protocol.js';
import type { Store } from '../store/store.js';
import type { Answer } from '../gap/handler.js';
import type { OutboxDelivery } from './delivery.js';

type Publish = (topic: string, payload: string, opts: { qos: 1 }) => Promise<void>;

export class Replies {
  private publish: Publish | undefined;
  private delivery: OutboxDelivery | undefined;

  constructor(private readonly store: Store, private readonly now: () => Date = () => new Date()) {}

  // The broker is up (it starts after the gap, whose checks it calls).
  connect(publish: Publish, delivery: OutboxDelivery): void {
    this.publish = publish;
    this.delivery = delivery;
  }

  // A direct answer, at QoS 1 and once: a device that misses it resends its request
  // and is answered again from the store.
  async answer(device: string, re: string | undefined, answer: Answer): Promise<void> {
    if (!this.publish) throw new Error('no broker to answer through yet');
    await this.store.durable(); // nothing is said that a crash could take back
    const message = { v: PROTOCOL_VERSION, id: randomUUID(), ...(re ? { re } : {}), type: answer.type, ts: this.now().toISOString(), body: answer.body };
    await this.publish(topics.down(device), JSON.stringify(message), { qos: 1 });
  }

  // An outbox message for this device was committed: deliver it if the device listens.
  posted(device: string, messageIds: readonly string[] = []): void {
    this.delivery?.deliver(device, messageIds);
  }
}
