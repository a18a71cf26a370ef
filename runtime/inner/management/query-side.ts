// The information store's query side, assembled for inner.ts: the statement requester
// on the ferry channel, reconciliation, retention with its daily timer, and the
// management API when gateway.yaml has a `management` section.
import type { ChannelConnection } from '../../channel/connection.js';
import type { Logger } from '../../common/logger.js';
import type { GatewayConfig } from '../../rules/types.js';
import type { Store } from '../store/store.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import { Reconciler } from '../reconcile/reconcile.js';
import { StatementRequester, type StatementHandlers } from '../reconcile/statement-request.js';
import { Retention } from '../retention/retention.js';
import { ListenError } from '../../common/listen.js';
import { startManagement, type RunningManagement } from './server.js';
import type { Clock } from '../../common/clock.js';
import type { DeviceRoutesSource } from './devices.js';
import type { ManagementRoutes } from './monitoring.js';
import { buildIndexes } from './indexes.js';

export interface QuerySide {
  reconciler: Reconciler;
  retention: Retention;
  managementUrl(): string | null;
  attach(connection: ChannelConnection): StatementHandlers;
  start(): Promise<void>;
  close(): Promise<void>;
}

// Synchronous, so that the channel can attach before anything listens.
export function createQuerySide(o: {
  store: Store; gateway: GatewayConfig; log: Logger; day: HospitalDay; now?: () => Date; clock?: Clock; retryRefund?: (id: string) => Promise<unknown>; devices?: DeviceRoutesSource;
  routes?: ManagementRoutes;
}): QuerySide {
  const clock = o.now ? { now: o.now } : {};
  const statements = new StatementRequester(undefined, o.clock);
  const reconciler = new Reconciler({ store: o.store, statements, day: o.day, ...clock, log: o.log.child({ part: 'reconcile' }) });
  const retention = new Retention({ store: o.store, config: o.gateway.retention, day: o.day, ...clock, ...(o.clock ? { clock: o.clock } : {}), log: o.log.child({ part: 'retention' }) });
  let management: RunningManagement | null = null;
  let closed = false;
  let indexing: Promise<void> = Promise.resolve();
  return {
    reconciler, retention,
    managementUrl: () => management?.url ?? null,
    attach: (connection) => statements.attach(connection),
    async start() {
      retention.start();
      // In the background: a store from an earlier version gets its new indexes while
      // the gateway serves (indexes.ts).
      indexing = buildIndexes(o.store, o.log.child({ part: 'indexes' }), () => closed).catch((err: Error) => {
        if (!closed) o.log.error({ err: err.message }, 'query indexes not built; queries by patient and order read every record');
      });
      const config = o.gateway.management;
      if (!config) return;
      try {
        management = await startManagement({
          config, store: o.store, day: o.day, reconciler, retention, log: o.log.child({ part: 'management' }),
          ...(o.retryRefund ? { retryRefund: o.retryRefund } : {}), ...(o.devices ? { devices: o.devices } : {}),
          ...(o.routes ? { routes: o.routes } : {}),
          ...(o.now ? { now: () => o.now!().getTime() } : {}), // the gateway's clock (a backup's time)
        });
      } catch (err) {
        // A port that is taken is the operator's to fix, and is told at once (the side
        // stops with one line); any other failure leaves the gateway running without its
        // query API, as payments matter more than queries.
        if (err instanceof ListenError) throw err;
        o.log.error({ err: (err as Error).message, host: config.host, port: config.port }, 'management API not started; queries are unavailable');
      }
    },
    async close() {
      closed = true;
      await indexing;
      retention.close();
      statements.close();
      await management?.close();
    },
  };
}
