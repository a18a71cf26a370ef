// Assembles the outer side: channel client, relay (payment client + breaker) and the
// notification endpoint. Holds no state that must survive a restart.
import { systemClock, type Clock } from '../common/clock.js';
import { assert } from '../common/errors.js';
import { systemRandom, type Random } from '../common/random.js';
import type { Logger } from '../common/logger.js';
import { CHANNEL, METRICS_INTERVAL_MS, type ChannelRecord } from '../channel/records.js';
import { ProcessFigures } from '../common/process-figures.js';
import { OuterFigures } from './figures.js';
import { ChannelClient } from './channel-client.js';
import { NotificationForwarder, NOTIFY_ACK_WAIT_MS } from './notify/forwarder.js';
import type { NotifyLimits } from './notify/limits.js';
import { RefusalReporter } from './notify/refusals.js';
import { startNotifyServer } from './notify/server.js';
import { BREAKER_COOL_DOWN_MS, BREAKER_FAILURE_THRESHOLD, CircuitBreaker, type BreakerState } from './relay/breaker.js';
import { PaymentClient, type PaymentClientOptions } from './relay/payment-client.js';
import { Relay, type RelayTuning } from './relay/relay.js';
import { RefundRelay } from './relay/refunds.js';
import { StatementFetcher } from './statements/statements.js';

export interface OuterTuning extends RelayTuning {
  breakerFailureThreshold: number;
  breakerCoolDownMs: number;
  notifyAckWaitMs: number;
  notifyLimits: Partial<NotifyLimits>;
  metricsIntervalMs: number; // how often the figures go across (METRICS_INTERVAL_MS)
}

export interface OuterOptions {
  socketPath: string;
  payment: { url: string; secret: string; timeoutMs: number; tls?: PaymentClientOptions['tls'] };
  notify: { host: string; port: number; toleranceSec: number };
  log: Logger;
  tuning?: Partial<OuterTuning>; // tests and benchmarks shorten the waits
  // The side's clock: retries, the breaker's cool-down, heartbeats, ack waits and
  // refusal windows (a test may run it faster than real time).
  clock?: Clock;
  random?: Random; // the jitter of retries and reconnects (seeded from the system)
  // The wall clock of the notification endpoint's signatures (checked against the
  // payment server's, so never the side's test clock) and of the refusal counts.
  now?: () => number;
}

export interface Outer {
  notifyUrl: string;
  close(): Promise<void>;
  status(): { connected: boolean; breaker: BreakerState; inFlight: number };
}

export async function startOuter(opts: OuterOptions): Promise<Outer> {
  assert(opts.payment.secret.length > 0, 'payment secret is not empty');
  const { log, tuning = {} } = opts;
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? systemRandom();
  const channel = new ChannelClient(opts.socketPath, log.child({ part: 'channel' }), { clock, random });
  const send = (record: ChannelRecord) => channel.send(record);
  const breaker = new CircuitBreaker({
    failureThreshold: tuning.breakerFailureThreshold ?? BREAKER_FAILURE_THRESHOLD,
    coolDownMs: tuning.breakerCoolDownMs ?? BREAKER_COOL_DOWN_MS,
    clock,
  });
  breaker.on('state', (state) => log.warn({ part: 'relay', breaker: state }, 'payment server circuit breaker changed state'));
  const processFigures = new ProcessFigures(clock);
  const figures = new OuterFigures(processFigures);
  const client = new PaymentClient(opts.payment, (operation, seconds, error) => figures.call(operation, seconds, error));
  const relay = new Relay({ client, breaker, send, log: log.child({ part: 'relay' }), tuning, clock, random });
  const refunds = new RefundRelay({ client, breaker, send, log: log.child({ part: 'refunds' }), retryBaseMs: tuning.retryBaseMs ?? 250, clock, random });
  const statements = new StatementFetcher({ client, send, log: log.child({ part: 'statements' }) });
  const forwarder = new NotificationForwarder(send, tuning.notifyAckWaitMs ?? NOTIFY_ACK_WAIT_MS, clock);
  const wallNow = opts.now ?? Date.now;
  const notifyLog = log.child({ part: 'notify' });
  const refusals = new RefusalReporter({ send, log: notifyLog, now: opts.now ?? (() => clock.now()), clock });

  channel.on('record', CHANNEL.receiver('outer', {
    order: (record) => relay.onOrder(record),
    'notification.ack': (record) => forwarder.onAck(record),
    refund: (record) => refunds.onRefund(record),
    'statement.request': (record) => statements.onRequest(record),
  }));
  channel.on('disconnected', () => forwarder.dropAll());
  channel.on('connected', () => refusals.drain());
  let notifyListening = false;
  // Figures are never worth the payment side: a report that fails is logged, not thrown.
  const report = () => {
    try {
      channel.send(figures.record({ breaker: breaker.state, notifyListening }));
    } catch (err) {
      log.error({ part: 'metrics', err: (err as Error).message }, 'metrics report not sent');
    }
  };
  // The figures go across as soon as the channel is up, then every few seconds.
  channel.on('connected', report);

  const notify = await startNotifyServer({
    ...opts.notify,
    secret: opts.payment.secret,
    log: notifyLog,
    forwarder,
    amountOf: (orderId) => relay.amountOf(orderId),
    onAccepted: (n) => {
      figures.notificationAccepted();
      relay.settled(n.orderId);
    },
    refused: (r) => {
      figures.notificationRefused(r.reason);
      refusals.refused(r);
    },
    now: wallNow,
    ...(tuning.notifyLimits ? { limits: tuning.notifyLimits } : {}),
  });
  notifyListening = true;
  const reporting = clock.setInterval(report, tuning.metricsIntervalMs ?? METRICS_INTERVAL_MS);
  reporting.unref();
  refusals.start();
  channel.start();

  return {
    notifyUrl: notify.url,
    status: () => ({ connected: channel.connected, breaker: breaker.state, inFlight: relay.inFlightCount() }),
    async close() {
      clock.clearInterval(reporting);
      notifyListening = false;
      await notify.close();
      refusals.stop();
      refusals.flush(true); // what was counted goes across while the channel is still there
      const relayClosed = Promise.all([relay.close(), refunds.close()]);
      breaker.close();
      client.close(); // aborts calls in flight, so that the relay's loops end now
      await relayClosed;
      forwarder.dropAll();
      await channel.close();
      processFigures.close();
    },
  };
}
