// The inner side's metrics and health, assembled for inner.ts: the registry, the
// store's observer, the outer side's report, the state gauges, the readiness checks and
// the management routes that serve them. inner.ts hands it the parts; it adds no state
// of its own beyond the last report and the last verification.
import type { Clock } from '../../common/clock.js';
import type { HospitalDay } from '../../common/hospital-day.js';
import type { Logger } from '../../common/logger.js';
import { ProcessFigures } from '../../common/process-figures.js';
import type { MetricsRecord } from '../../channel/records.js';
import type { Rules } from '../../rules/types.js';
import type { RunningBroker } from '../broker/broker.js';
import { monitoringRoutes, type ManagementRoutes, type Readiness } from '../management/monitoring.js';
import type { AuditEvent, Store } from '../store/store.js';
import { auditCounter } from './audit-tap.js';
import { OuterReport } from './outer-report.js';
import { innerChecks } from './readiness.js';
import { InnerMetrics } from './registry.js';
import { LastVerify, readState } from './state.js';
import { haGauges } from './ha-gauges.js';

export interface ObservabilityParts {
  store: Store;
  rules: () => Rules; // the running rules (a reload replaces them)
  broker: () => RunningBroker | undefined; // once it listens
  outerConnected: () => boolean;
  day: HospitalDay;
  clock: Clock; // the side's: uptime, the report's age
  now: () => number; // what time it is for the journal's age and today's pools
  log: Logger;
  ha?: ActiveTerm; // in an active/standby pair: this box's term as the active one
}

// What the active box of a pair holds (runtime/inner/ha/leadership.ts).
export interface ActiveTerm {
  epoch: string;
  holder: string;
}

export class Observability {
  readonly metrics = new InnerMetrics();
  readonly readiness: Readiness;
  readonly routes: ManagementRoutes;
  readonly lastVerify = new LastVerify(); // the console shows it too
  private readonly process: ProcessFigures;
  private readonly outer: OuterReport;
  private lastReload: 'ok' | 'refused' | undefined;

  constructor(p: ObservabilityParts) {
    this.process = new ProcessFigures(p.clock);
    this.outer = new OuterReport(p.clock, p.outerConnected);
    this.outer.register(this.metrics);
    const lastVerify = this.lastVerify;
    const countAudit = auditCounter(this.metrics, () => p.rules().messages);
    p.store.observe({
      committed: (events) => {
        countAudit(events);
        this.noteReloads(events);
      },
      synced: (writes, seconds) => {
        this.metrics.observe('ferry_store_commit_duration_seconds', seconds);
        this.metrics.observe('ferry_store_batch_writes', writes);
      },
      verified: (verdict, atMs) => lastVerify.verified(verdict, atMs),
    });
    readState(this.metrics, {
      store: p.store, aedes: () => p.broker()?.aedes, devices: () => p.rules().devices, departments: () => p.rules().departments,
      day: p.day, now: p.now, process: this.process, outer: this.outer,
    }, lastVerify);
    const term = p.ha;
    if (term) haGauges(this.metrics, 'active', term.epoch);
    this.readiness = {
      checks: (side) => (side === 'outer' ? this.outer.checks() : innerChecks({
        store: p.store, broker: p.broker, channel: p.outerConnected,
        rules: () => ({ messages: p.rules().messages.size, devices: p.rules().devices.size, lastReload: this.lastReload }),
        ...(term ? { term } : {}),
      })),
      role: () => (term ? 'active' : undefined),
    };
    this.routes = monitoringRoutes({ metrics: this.metrics, readiness: this.readiness, log: p.log.child({ part: 'management' }) });
  }

  // Counts what devices publish and what the gateway publishes through aedes; returns the
  // broker for the outbox, whose tracked sends pass aedes by and are counted here.
  brokerStarted(broker: RunningBroker): RunningBroker {
    broker.aedes.on('publish', (packet, client) => {
      if (client) this.metrics.count('ferry_mqtt_messages_received_total', {});
      else if (!packet.topic.startsWith('$SYS')) this.metrics.count('ferry_mqtt_messages_sent_total', {}); // $SYS: aedes's own
    });
    const metrics = this.metrics;
    return {
      ...broker,
      sendTracked(clientId, topic, payload) {
        const sent = broker.sendTracked(clientId, topic, payload);
        if (sent) metrics.count('ferry_mqtt_messages_sent_total', {});
        return sent;
      },
    };
  }

  // The inner side's handler of the outer side's `metrics` records.
  channelHandlers(): { metrics: (record: MetricsRecord) => void } {
    return { metrics: (record) => this.outer.received(record) };
  }

  redelivered(dept: string, count: number): void {
    this.metrics.count('ferry_dispatch_redeliveries_total', { dept }, count);
  }

  close(): void {
    this.process.close();
  }

  private noteReloads(events: readonly AuditEvent[]): void {
    for (const e of events) {
      if (e.kind === 'rules.reloaded') this.lastReload = 'ok';
      else if (e.kind === 'rules.reload_refused') this.lastReload = 'refused';
    }
  }
}
