// The inner (medical) side, assembled: broker → gap → handlers → store, and the ferry
// channel to the outer side. startInner is what main.ts runs and what tests start
// in-process.
import path from 'node:path';
import type net from 'node:net';
import type { GatewayConfig, Rules } from '../rules/types.js';
import { changedKeys } from '../rules/gateway-changes.js';
import { loadRules } from '../rules/load.js';
import type { Logger } from '../common/logger.js';
import { listenChannel } from '../channel/connection.js';
import { CHANNEL } from '../channel/records.js';
import { joinHandlers } from '../channel/table.js';
import { configuredBackend } from './store/configured.js';
import { Store } from './store/store.js';
import { startBroker, type DeniedEvent, type RunningBroker } from './broker/broker.js';
import { Gap } from './gap/gap.js';
import { SeenRequests } from './gap/seen-requests.js';
import { OrderBook } from './payments/order-book.js';
import { OuterLink } from './payments/link.js';
import { FirstAnswers } from './payments/first-answers.js';
import { retryRefund } from './payments/refund-retry.js';
import { billPayable } from './billing/payable.js';
import { registrationPayable } from './registration/payable.js';
import { Replies } from './outbox/replies.js';
import { OutboxDelivery } from './outbox/delivery.js';
import { OutboxCounts } from './outbox/counts.js';
import { afterCommit } from './after-commit.js';
import { billCreate } from './handlers/bill-create.js';
import { billQuery } from './handlers/bill-query.js';
import { billStatus } from './handlers/bill-status.js';
import { registrationQuery } from './handlers/registration-query.js';
import { paymentRequest } from './handlers/payment-request.js';
import { registrationRequest } from './handlers/registration-request.js';
import { registrationCancel } from './handlers/registration-cancel.js';
import { slotsStatus } from './handlers/slots-status.js';
import { Registrations } from './registration/registrations.js';
import { SlotsPublisher } from './registration/slots-publisher.js';
import { ExpirySweeper } from './registration/sweeper.js';
import { patientInfo } from './handlers/patient-info.js';
import { dispatchAck } from './handlers/dispatch-ack.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { createQuerySide, type QuerySide } from './management/query-side.js';
import { deviceListing, type ReloadOutcome } from './management/devices.js';
import { HospitalDay } from '../common/hospital-day.js';
import { systemClock, type Clock } from '../common/clock.js';
import { Observability, type ActiveTerm } from './metrics/observability.js';
import type { InnerMetrics } from './metrics/registry.js';
import type { Readiness } from './management/monitoring.js';
import { consoleRoutes } from './management/console/routes.js';
import { ConsoleData } from './management/console/snapshot.js';
import { RefusalLog } from '../common/refusal-log.js';

export interface InnerOptions {
  rules: Rules;
  dataDir: string;
  log: Logger;
  // The side's clock (timers included); `now` overrides only what time it is, for the
  // tests that set a date.
  clock?: Clock;
  now?: () => Date; // the clock of payments, bills, registrations and the store's audit
  // gateway.yaml as loaded, before command-line overrides: what a reload compares the
  // file with to name the keys that need a restart (default: rules.gateway).
  gatewayFile?: GatewayConfig;
  // The active box of a pair (docs/ha.md): its term. The store is written under its
  // epoch (the fencing token): a write after another box bumped the epoch fails FENCED.
  ha?: ActiveTerm;
}

export interface RunningInner {
  broker: RunningBroker;
  store: Store;
  payments: OrderBook;
  outbox: OutboxDelivery;
  slots: SlotsPublisher;
  sweeper: ExpirySweeper;
  dispatcher: Dispatcher;
  query: QuerySide;
  // This side's registry, with the outer side's figures from the channel, and the
  // readiness of both sides (README.md, "Operating Ferry").
  metrics: InnerMetrics;
  readiness: Readiness;
  socketPath: string;
  // Re-reads the rule files; keeps the running ones when the new ones do not load.
  // Reloads run one at a time (SIGHUP and POST /v1/rules/reload may meet).
  reloadRules(): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

export async function startInner({ rules, dataDir, log, clock: sideClock, now: dateNow, gatewayFile, ha }: InnerOptions): Promise<RunningInner> {
  const gw = rules.gateway;
  const day = new HospitalDay(gw.timeZone);
  const time = sideClock ?? systemClock;
  const now = dateNow ?? (sideClock ? () => new Date(sideClock.now()) : undefined);
  const clock = now ? { now } : {};
  const backend = await configuredBackend(gw.store, ha?.epoch);
  const store = await Store.open(dataDir, log.child({ part: 'store' }), { ...clock, backend });
  let broker: RunningBroker | undefined;
  let current: Rules = rules; // what a reload replaces

  // Rules that a reload replaces; the parts that read them ask for the current ones.
  let departments = rules.departments;
  const currentDepartments = () => departments;
  const registrations = new Registrations(currentDepartments, day);
  const slots = new SlotsPublisher(store, currentDepartments,
    (topic, payload) => broker!.publish(topic, payload, { qos: 1, retain: true }), log.child({ part: 'slots' }), day);
  const poolChanged = (pool: { dept: string; date: string }) => slots.changed(pool);
  // Dispatch needs the broker's events, so it starts with the broker; until then a
  // queued message simply waits in the store (it is sent when a workstation subscribes).
  let triage = rules.triage;
  let dispatcher: Dispatcher | undefined;

  // Built in dependency order, each from the ones before it: the gap and the order
  // book both answer through `replies`, and neither knows the other.
  const paymentsLog = log.child({ part: 'payments' });
  const replies = new Replies(store, now);
  const link = new OuterLink(store, paymentsLog, now, time);
  const answers = new FirstAnswers(gw.limits.replyWaitMs, time);
  const effects = afterCommit({ poolChanged, link, answers, replies, dispatcher: () => dispatcher, log });
  const payables = [billPayable, registrationPayable(registrations)];
  const outboxCounts = new OutboxCounts(store);
  const payments = new OrderBook({ store, log: paymentsLog, ...clock, link, answers, afterCommit: effects, payables, outboxCounts });
  const brokerLog = log.child({ part: 'broker' });
  const deniedLog = new RefusalLog(brokerLog, time);
  const gapLog = log.child({ part: 'gap' });
  const gapRefusals = new RefusalLog(gapLog, time, { level: 'info' });
  const gap = new Gap({
    messages: rules.messages,
    handlers: [
      billCreate(now), billQuery(store), billStatus(store), paymentRequest(payments, payables, now),
      registrationQuery(store),
      registrationRequest(registrations, now), registrationCancel(store, registrations, payments, now),
      slotsStatus(currentDepartments, log.child({ part: 'slots' })),
      patientInfo({ store, triage: () => triage, departments: () => new Set(departments.departments.keys()) }),
      dispatchAck({ store }),
    ],
    store, log: gapLog, replies, afterCommit: effects, refusalLog: gapRefusals, seen: await SeenRequests.open(store, gapLog),
    // The side's clock, not a test's fixed date: rate limits refill as time passes.
    now: () => time.now(),
  });
  const sweeper = new ExpirySweeper(store, registrations, poolChanged, log.child({ part: 'sweeper' }), now, time);

  let reloading: Promise<unknown> = Promise.resolve();
  const reloadRules = (): Promise<ReloadOutcome> => {
    const next = reloading.then(() => reloadNow());
    reloading = next.catch(() => {});
    return next;
  };
  const devicesSource = {
    devices: () => broker!.devices(),
    seen: (id: string) => broker!.roster.seen(id),
    reloadRules,
  };
  const observed = new Observability({
    store, rules: () => current, broker: () => broker, outerConnected: () => link.connected, day, clock: time,
    now: () => (now ? now().getTime() : time.now()), log, ...(ha ? { ha } : {}),
  });
  // The web console reads the parts as they are when asked; broker and dispatcher exist
  // by the time the management listener serves anything.
  const consoleData = new ConsoleData({
    store, day, clock: time, log: log.child({ part: 'console' }), startedAt: time.now(),
    metrics: observed.metrics, lastVerify: observed.lastVerify,
    devices: () => deviceListing(devicesSource).devices,
    departments: currentDepartments,
    messageTypes: () => current.messages,
    outerConnected: () => link.connected,
    slots: (pool) => slots.sessions(pool),
    listening: (dept) => dispatcher?.listening(dept) ?? 0,
    ...(ha ? { ha } : {}),
  });
  const consolePages = consoleRoutes(consoleData, (err) => log.error({ err: err.stack }, 'console snapshot failed'));
  const query = createQuerySide({
    store, gateway: gw, log, day, ...clock, clock: time, devices: devicesSource,
    routes: (req, access) => observed.routes(req, access) ?? consolePages(req, access),
    retryRefund: (id) => retryRefund({ store, registrations, link, log: paymentsLog, ...clock }, id),
  });
  const socketPath = path.resolve(dataDir, gw.channel.socket);
  let channelServer: net.Server | undefined;
  let outbox: OutboxDelivery | undefined;
  try {
    broker = await startBroker({
      host: gw.mqtt.host, port: gw.mqtt.port, ...(gw.mqtt.tls ? { tls: gw.mqtt.tls } : {}),
      rulesDir: rules.dir, devices: rules.devices, roles: rules.roles, log: brokerLog, clock: time,
      onUp: (device, type, payload) => gap.receive(device, type, payload),
      onDenied: (event) => {
        deniedLog.refused(deniedKey(event), { action: event.action, device: event.device || undefined, remote: event.remote, reason: event.reason, topic: event.topic }, DENIED_MESSAGE[event.action]);
        store.audit({ kind: `acl.denied.${event.action}`, device: event.device, reason: event.reason, ...(event.topic ? { topic: event.topic } : {}) })
          .catch((err: Error) => log.error({ err: err.message }, 'audit of a denial failed'));
      },
    });
    // At once: a device may publish from the moment the broker listens.
    outbox = new OutboxDelivery({ store, aedes: broker.aedes, broker: observed.brokerStarted(broker), log: log.child({ part: 'outbox' }), counts: outboxCounts });
    replies.connect(broker.publish, outbox);
    const channelLog = log.child({ part: 'channel' });
    channelServer = await listenChannel(socketPath, channelLog, (connection) => {
      connection.once('ready', () => {
        const handlers = joinHandlers(link.attach(connection, payments), query.attach(connection), observed.channelHandlers());
        connection.on('record', CHANNEL.receiver('inner', handlers, (err, record) => {
          channelLog.error({ err: (err as Error).stack, kind: record.k }, 'channel record failed');
        }));
      });
    }, time);
  } catch (err) {
    deniedLog.flush();
    gapRefusals.flush();
    await outbox?.close();
    await broker?.close();
    await sweeper.close();
    link.close();
    answers.close();
    await store.close();
    observed.close();
    throw err;
  }
  const running = new Dispatcher({
    store, aedes: broker.aedes, publish: broker.publish, log: log.child({ part: 'dispatch' }),
    redeliverAfterMs: triage.dispatch.redeliverAfterMs, clock: time,
    onRedelivered: (dept, count) => observed.redelivered(dept, count),
  });
  dispatcher = running;
  await slots.republishAll();
  consoleData.start();
  async function reloadNow(): Promise<ReloadOutcome> {
    let fresh: Rules;
    try {
      fresh = loadRules(rules.dir);
    } catch (err) {
      const problems = (err as Error).message;
      log.error({ problems }, 'rule files not reloaded: they do not load; the running rules stay');
      await store.audit({ kind: 'rules.reload_refused', problems: problems.slice(0, 2000) });
      return { ok: false, problems };
    }
    gap.replaceMessages(fresh.messages);
    current = fresh;
    departments = fresh.departments;
    triage = fresh.triage;
    running.setRedeliverAfter(triage.dispatch.redeliverAfterMs);
    const dropped = broker!.replaceRules(fresh.devices, fresh.roles);
    log.info({ devices: fresh.devices.size, messages: fresh.messages.size, dropped }, 'rule files reloaded');
    const restartNeeded = changedKeys(gatewayFile ?? rules.gateway, fresh.gateway);
    if (restartNeeded.length > 0) {
      log.warn({ restartNeeded }, `gateway.yaml changed: ${restartNeeded.join(', ')} take effect only after a restart; the running values stay`);
    }
    await store.audit({ kind: 'rules.reloaded', devices: fresh.devices.size, messages: fresh.messages.size, dropped, ...(restartNeeded.length > 0 ? { restartNeeded } : {}) });
    return { ok: true, dropped };
  }

  const inner: RunningInner = {
    broker, store, payments, outbox: outbox!, slots, sweeper, dispatcher: running, query, metrics: observed.metrics, readiness: observed.readiness, socketPath,
    reloadRules,
    async close() {
      await query.close();
      consoleData.close();
      await sweeper.close();
      await slots.settled();
      await running.close();
      link.close();
      answers.close();
      await outbox!.close();
      await new Promise<void>((resolve) => channelServer!.close(() => resolve()));
      await broker!.close();
      deniedLog.flush();
      gapRefusals.flush();
      await store.close();
      observed.close();
    },
  };
  try {
    await query.start();
  } catch (err) {
    await inner.close();
    throw err;
  }
  log.info({ socket: socketPath, mqttPort: broker.port, management: query.managementUrl() }, 'inner side ready');
  return inner;
}

const DENIED_MESSAGE: Record<DeniedEvent['action'], string> = {
  connect: 'CONNECT refused',
  publish: 'publish refused by the ACL',
  subscribe: 'subscribe refused by the ACL',
};

// Identical refusals share a line: a CONNECT by its remote address (a loop of bad
// logins from one kiosk, or one scanner trying many ids), the others by device.
function deniedKey(e: DeniedEvent): string {
  return e.action === 'connect' ? `connect ${e.remote ?? '?'} ${e.reason}` : `${e.action} ${e.device} ${e.reason}`;
}
