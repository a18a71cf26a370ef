// Which workstations are listening to each department's inbox right now, from the
// broker's own events (../broker/subscriptions.ts).
import type { Aedes, Client } from 'aedes';
import { watchSubscriptions } from '../broker/subscriptions.js';

const INBOX = /^dept\/([^/+#]+)\/inbox$/;

export function inboxDept(topic: string): string | undefined {
  return INBOX.exec(topic)?.[1];
}

export class Subscribers {
  // dept -> client id -> the client object (a takeover by the same id replaces it)
  private readonly byDept = new Map<string, Map<string, Client>>();
  private readonly detach: () => void;

  constructor(aedes: Aedes, onSubscribed: (dept: string, clientId: string) => void) {
    const subscribed = (subs: Array<{ topic: string; qos: number }>, client: Client) => {
      for (const s of subs) {
        const dept = inboxDept(s.topic);
        if (dept === undefined || s.qos === 128 || !client) continue; // 128: refused by the ACL
        let clients = this.byDept.get(dept);
        if (!clients) this.byDept.set(dept, (clients = new Map()));
        clients.set(client.id, client);
        onSubscribed(dept, client.id);
      }
    };
    const unsubscribed = (filters: string[], client: Client) => {
      for (const f of filters) {
        const dept = inboxDept(f);
        if (dept !== undefined) this.remove(dept, client);
      }
    };
    const gone = (client: Client) => {
      for (const dept of this.byDept.keys()) this.remove(dept, client);
    };
    this.detach = watchSubscriptions(aedes, { subscribed, unsubscribed, gone });
  }

  count(dept: string): number {
    return this.byDept.get(dept)?.size ?? 0;
  }

  depts(): string[] {
    return [...this.byDept.keys()].filter((d) => this.count(d) > 0);
  }

  close(): void {
    this.detach();
    this.byDept.clear();
  }

  private remove(dept: string, client: Client): void {
    const clients = this.byDept.get(dept);
    // A newer connection with the same id has replaced this one: keep the newer.
    if (clients?.get(client.id) === client) clients.delete(client.id);
    if (clients?.size === 0) this.byDept.delete(dept);
  }
}
