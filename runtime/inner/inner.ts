// The inner (medical) side, assembled: broker → gap → handlers → store, and the ferry
// channel to the outer side. startInner is what main.ts runs and what tests start
// in-process.
import path from 'node:path';
import type net from 'node:net';
import type { Rules } from '../rules/types.js';
import { loadRules } from '../rules/load.js';
import type { Logger } from '../common/logger.js';
import { listenChannel } from '../channel/connection.js';
import { topics } from '../../devices/protocol.js';
import { Store } from './store/store.js';
import { startBroker, type RunningBroker } from './broker/broker.js';
import { Gap } from './gap/gap.js';
import { Payments } from './payments/payments.js';
import { billCreate } from './handlers/bill-create.js';
import { billQuery } from './handlers/bill-query.js';
import { paymentRequest } from './handlers/payment-request.js';

export interface InnerOptions {
  rules: Rules;
  dataDir: string;
  log: Logger;
}

export interface RunningInner {
  broker: RunningBroker;
  store: Store;
  payments: Payments;
  socketPath: string;
  // Re-reads the rule files; keeps the running ones when the new ones do not load.
  reloadRules(): Promise<{ ok: true; dropped: number } | { ok: false; problems: string }>;
  close(): Promise<void>;
}

export async function startInner({ rules, dataDir, log }: InnerOptions): Promise<RunningInner> {
  const gw = rules.gateway;
  const store = await Store.open(dataDir, log.child({ part: 'store' }));
  let broker: RunningBroker | undefined;

  const send = async (deviceId: string, message: object) => {
    await store.durable(); // nothing is said that a crash could take back
    await broker!.publish(topics.down(deviceId), JSON.stringify(message), { qos: 1 });
  };

  const payments = new Payments({
    store, log: log.child({ part: 'payments' }), replyWaitMs: gw.limits.replyWaitMs,
    send: (deviceId, re, answer) => gap.answer(deviceId, re, answer),
  });
  const gap = new Gap({
    messages: rules.messages,
    handlers: [billCreate(), billQuery(store), paymentRequest(payments)],
    store, log: log.child({ part: 'gap' }), send,
  });

  const socketPath = path.resolve(dataDir, gw.channel.socket);
  let channelServer: net.Server | undefined;
  try {
    broker = await startBroker({
      host: gw.mqtt.host, port: gw.mqtt.port, ...(gw.mqtt.tls ? { tls: gw.mqtt.tls } : {}),
      rulesDir: rules.dir, devices: rules.devices, roles: rules.roles, log: log.child({ part: 'broker' }),
      onUp: (device, type, payload) => gap.receive(device, type, payload),
      onDenied: (event) => {
        log.warn(event, 'denied');
        store.audit({ kind: `acl.denied.${event.action}`, device: event.device, reason: event.reason, ...(event.topic ? { topic: event.topic } : {}) })
          .catch((err: Error) => log.error({ err: err.message }, 'audit of a denial failed'));
      },
    });
    channelServer = await listenChannel(socketPath, log.child({ part: 'channel' }), (connection) => {
      connection.once('ready', () => payments.attach(connection));
    });
  } catch (err) {
    await broker?.close();
    payments.close();
    await store.close();
    throw err;
  }
  log.info({ socket: socketPath, mqttPort: broker.port }, 'inner side ready');

  return {
    broker, store, payments, socketPath,
    async reloadRules() {
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
      const dropped = broker!.replaceRules(fresh.devices, fresh.roles);
      log.info({ devices: fresh.devices.size, messages: fresh.messages.size, dropped }, 'rule files reloaded');
      await store.audit({ kind: 'rules.reloaded', devices: fresh.devices.size, messages: fresh.messages.size, dropped });
      return { ok: true, dropped };
    },
    async close() {
      payments.close();
      await new Promise<void>((resolve) => channelServer!.close(() => resolve()));
      await broker!.close();
      await store.close();
    },
  };
}
