// A medical information receiver: reports a department's registration status for the
// day (capacity per session, bookings made at the window, closed sessions) as the
// hospital's own systems know it. Versions grow with every report of a department.
import { DeviceClient, type ConnectOptions, type RequestOptions } from '../../devices/client.js';
import type { ErrorBody, Reply, SlotsAppliedBody, SlotsStatusBody } from '../../devices/protocol.js';

export type SessionReport = SlotsStatusBody['sessions'][number];

export class ReceiverSim {
  private readonly versions = new Map<string, number>();

  constructor(readonly client: DeviceClient) {}

  static async connect(opts: ConnectOptions): Promise<ReceiverSim> {
    return new ReceiverSim(await DeviceClient.connect(opts));
  }

  // Sends a report with the department's next version (or the one given, to replay an
  // old report in tests). Versions are unix seconds, bumped when two reports share a
  // second: milliseconds would be 13 digits, which the gateway's card guard can take
  // for a card number.
  report(dept: string, date: string, sessions: SessionReport[], o: { version?: number; request?: RequestOptions } = {}): Promise<Reply<SlotsAppliedBody> | Reply<ErrorBody>> {
    const version = o.version ?? Math.max(Math.floor(Date.now() / 1000), (this.versions.get(dept) ?? 0) + 1);
    if (version > (this.versions.get(dept) ?? 0)) this.versions.set(dept, version);
    const body: SlotsStatusBody = { dept, date, version, sessions };
    return this.client.request('slots.status', body, o.request) as Promise<Reply<SlotsAppliedBody> | Reply<ErrorBody>>;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
