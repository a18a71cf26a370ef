// What the inner side of a standby box serves while another box is active: the
// management listener only, answering /healthz (alive), /readyz (503 STANDBY, so that
// keepalived and load balancers send it nothing), /metrics (its role) and STANDBY for
// every other route. The MQTT listener, the channel socket and the store stay closed:
// nothing a device or the outer side sends can reach this box until it holds the lock.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../common/logger.js';
import { errorEntry, httpStatus } from '../../common/errors.js';
import { listenOn } from '../../common/listen.js';
import { limitPerAddress } from '../../common/per-address-limit.js';
import type { ManagementConfig } from '../../rules/types.js';
import { TokenCheck } from '../management/auth.js';
import { monitoringRoutes, type Readiness } from '../management/monitoring.js';
import { MANAGEMENT_LIMITS } from '../management/server.js';
import { InnerMetrics } from '../metrics/registry.js';
import { haGauges } from '../metrics/ha-gauges.js';

export interface StandbyOptions {
  management: ManagementConfig | null; // null: no listener (and nothing for keepalived to ask)
  log: Logger;
  // Why this box is the standby, as the last try for the lock said (who is active).
  state: () => string;
}

export interface RunningStandby {
  url: string | null;
  metrics: InnerMetrics;
  readiness: Readiness;
  close(): Promise<void>;
}

export async function startStandby(o: StandbyOptions): Promise<RunningStandby> {
  const metrics = new InnerMetrics({ only: ['ferry_ha_role', 'ferry_ha_epoch'] });
  haGauges(metrics, 'standby');
  const readiness: Readiness = {
    checks: (side) => [{
      name: 'standby', ok: false,
      detail: side === 'inner'
        ? `standby: ${o.state()}; this box takes over when the active one's lock frees`
        : 'standby: the outer side connects once this box is active',
    }],
    role: () => 'standby',
  };
  const log = o.log.child({ part: 'management' });
  if (!o.management) {
    log.warn('gateway.yaml has no management section: nothing answers /readyz on this standby, and keepalived cannot tell the boxes apart');
    return { url: null, metrics, readiness, close: async () => {} };
  }
  const tokens = new TokenCheck(o.management);
  const routes = monitoringRoutes({ metrics, readiness, log });
  const server = http.createServer({
    headersTimeout: MANAGEMENT_LIMITS.headersTimeoutMs,
    requestTimeout: MANAGEMENT_LIMITS.headersTimeoutMs,
    keepAliveTimeout: MANAGEMENT_LIMITS.keepAliveTimeoutMs,
  }, (req, res) => {
    const answer = routes(req, tokens.check(req.headers.authorization)) ?? standbyAnswer(req);
    void answer.then((a) => res.writeHead(a.status, { ...a.headers, 'content-length': Buffer.byteLength(a.body) }).end(req.method === 'HEAD' ? undefined : a.body));
  });
  server.maxConnections = MANAGEMENT_LIMITS.connectionsMax;
  server.timeout = MANAGEMENT_LIMITS.socketIdleTimeoutMs;
  // As on the active box: a forgotten keep-alive pool or a scanner cannot lock the checks out.
  limitPerAddress(server, MANAGEMENT_LIMITS.connectionsPerAddressMax, () => {});
  await listenOn(server, { host: o.management.host, port: o.management.port }, 'management API');
  const { port } = server.address() as AddressInfo;
  const host = o.management.host.includes(':') ? `[${o.management.host}]` : o.management.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'management API listening (standby)');
  return {
    url, metrics, readiness,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function standbyAnswer(req: http.IncomingMessage) {
  req.resume();
  const code = 'STANDBY';
  return {
    status: httpStatus('management', code),
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: code, role: 'standby', message: errorEntry('management', code).message }),
  };
}
