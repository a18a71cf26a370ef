// Who is connected to the broker and when each device was last seen, for `ferry devices
// list` and the console. In memory only: a restart starts it empty (the audit log keeps
// the history). Only ids that devices.yaml names get an entry, so a client that makes up
// ids cannot grow it.
import type { Clock } from '../../common/clock.js';

export type RefusalAction = 'connect' | 'publish' | 'subscribe';

export interface DeviceSeen {
  online: boolean;
  connectedAt: string | null; // ISO times on the side's clock
  disconnectedAt: string | null;
  lastMessageAt: string | null;
  // The latest of the three above: what an operator means by "last seen".
  lastSeenAt: string | null;
  remote: string | null; // address of the live (or last) connection
  refusals: Record<RefusalAction, number>; // since the gateway started
}

interface Entry {
  sessions: number; // open connections under this id (a takeover briefly makes two)
  connectedAt: number | null;
  disconnectedAt: number | null;
  lastMessageAt: number | null;
  remote: string | null;
  refusals: Record<RefusalAction, number>;
}

export class DeviceRoster {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock, private known: (id: string) => boolean) {}

  // After a reload: ids no longer in the rules are forgotten.
  setKnown(known: (id: string) => boolean): void {
    this.known = known;
    for (const id of this.entries.keys()) if (!known(id)) this.entries.delete(id);
  }

  connected(id: string, remote: string | undefined): void {
    const e = this.entry(id);
    if (!e) return;
    e.sessions += 1;
    e.connectedAt = this.clock.now();
    e.remote = remote ?? null;
  }

  disconnected(id: string): void {
    const e = this.entries.get(id);
    if (!e || e.sessions === 0) return;
    e.sessions -= 1;
    e.disconnectedAt = this.clock.now();
  }

  message(id: string): void {
    const e = this.entries.get(id);
    if (e) e.lastMessageAt = this.clock.now();
  }

  refused(id: string, action: RefusalAction): void {
    const e = this.entry(id);
    if (e) e.refusals[action] += 1;
  }

  seen(id: string): DeviceSeen {
    const e = this.entries.get(id);
    const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t).toISOString());
    const last = e ? Math.max(e.connectedAt ?? -Infinity, e.disconnectedAt ?? -Infinity, e.lastMessageAt ?? -Infinity) : -Infinity;
    return {
      online: (e?.sessions ?? 0) > 0,
      connectedAt: iso(e?.connectedAt),
      disconnectedAt: iso(e?.disconnectedAt),
      lastMessageAt: iso(e?.lastMessageAt),
      lastSeenAt: Number.isFinite(last) ? iso(last) : null,
      remote: e?.remote ?? null,
      refusals: { ...(e?.refusals ?? { connect: 0, publish: 0, subscribe: 0 }) },
    };
  }

  private entry(id: string): Entry | undefined {
    if (!this.known(id)) return undefined;
    let e = this.entries.get(id);
    if (!e) {
      e = { sessions: 0, connectedAt: null, disconnectedAt: null, lastMessageAt: null, remote: null, refusals: { connect: 0, publish: 0, subscribe: 0 } };
      this.entries.set(id, e);
    }
    return e;
  }
}
