// Following who subscribes to what, from the broker's own events, for the parts that
// deliver stored messages (department inboxes, device outboxes). A subscription exists
// only once aedes emits 'subscribe', so a message sent after that reaches the client;
// that is the moment to redeliver.
import type { Aedes, Client } from 'aedes';

export interface Subscription {
  topic: string;
  qos: number; // 128: refused by the ACL
}

export interface SubscriptionEvents {
  subscribed(subs: Subscription[], client: Client): void;
  unsubscribed(filters: string[], client: Client): void;
  gone(client: Client): void;
}

// Clients that subscribed before the watcher existed (the broker listens before the
// inner side has finished starting) count as subscribing now. Returns the detach.
export function watchSubscriptions(aedes: Aedes, events: SubscriptionEvents): () => void {
  const clients = (aedes as unknown as { clients: Record<string, Client & { subscriptions?: Record<string, { qos: number }> }> }).clients;
  for (const client of Object.values(clients)) {
    events.subscribed(Object.entries(client.subscriptions ?? {}).map(([topic, sub]) => ({ topic, qos: sub.qos })), client);
  }
  const subscribed = (subs: Subscription[], client: Client) => events.subscribed(subs, client);
  const unsubscribed = (filters: string[], client: Client) => events.unsubscribed(filters, client);
  const gone = (client: Client) => events.gone(client);
  aedes.on('subscribe', subscribed);
  aedes.on('unsubscribe', unsubscribed);
  aedes.on('clientDisconnect', gone);
  return () => {
    aedes.off('subscribe', subscribed);
    aedes.off('unsubscribe', unsubscribed);
    aedes.off('clientDisconnect', gone);
  };
}
