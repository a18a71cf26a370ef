// Many device connections at once: connect them (a bounded number of CONNECTs in
// flight), close them, and drop some at once to measure a reconnect storm.
import { DeviceClient, RECONNECT_PERIOD_MS } from '../../devices/client.js';
import type { Credential } from './devices-file.js';

// CONNECTs in flight while a fleet connects. The gateway runs scrypt for each; more in
// flight only queue in its thread pool and time out, and the time to connect N devices
// is what is measured, not how many the client can start at once.
export const CONNECTS_IN_FLIGHT_MAX = 200;
// A device that has not connected within this long counts as failed (a stuck gateway
// must not hang the run).
export const FLEET_CONNECT_TIMEOUT_MS = 60_000;
// How long a storm may take before the run gives up on it.
export const STORM_TIMEOUT_MS = 120_000;

export interface Fleet {
  clients: DeviceClient[];
  connectMs: number;
}

export async function connectFleet(url: string | readonly string[], creds: readonly Credential[], inFlight = CONNECTS_IN_FLIGHT_MAX): Promise<Fleet> {
  const clients: DeviceClient[] = new Array(creds.length);
  const started = performance.now();
  let next = 0;
  try {
    await Promise.all(Array.from({ length: Math.min(inFlight, creds.length) }, async () => {
      while (next < creds.length) {
        const i = next++;
        const { id, password } = creds[i]!;
        clients[i] = await DeviceClient.connect({ url, id, password, connectTimeoutMs: FLEET_CONNECT_TIMEOUT_MS });
      }
    }));
  } catch (err) {
    await closeFleet(clients.filter(Boolean));
    throw err;
  }
  return { clients, connectMs: performance.now() - started };
}

export async function closeFleet(clients: readonly DeviceClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

export interface StormReport {
  dropped: number;
  reconnected: number;
  // From the drop until the last device is connected again; includes the client's fixed
  // reconnect delay, which every device waits before its first attempt.
  allConnectedMs: number;
  reconnectDelayMs: number;
}

// Drops `count` connections at the same moment and waits until all are connected again.
export async function reconnectStorm(clients: readonly DeviceClient[], count: number): Promise<StormReport> {
  const victims = clients.slice(0, count);
  let reconnected = 0;
  const listeners: Array<[DeviceClient, (status: string) => void]> = [];
  const all = new Promise<void>((resolve) => {
    if (victims.length === 0) resolve();
    for (const client of victims) {
      let seenOffline = false;
      const listener = (status: string): void => {
        if (status === 'offline') seenOffline = true;
        if (status !== 'connected' || !seenOffline) return;
        client.off('status', listener);
        reconnected += 1;
        if (reconnected === victims.length) resolve();
      };
      listeners.push([client, listener]);
      client.on('status', listener);
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  for (const client of victims) client.dropLink();
  try {
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, STORM_TIMEOUT_MS)))]);
  } finally {
    clearTimeout(timer);
    for (const [client, listener] of listeners) client.off('status', listener);
  }
  return { dropped: victims.length, reconnected, allConnectedMs: performance.now() - started, reconnectDelayMs: RECONNECT_PERIOD_MS };
}
