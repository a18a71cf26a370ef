// Command-line overrides of rules/gateway.yaml, so that tests and several gateways can
// run side by side on one machine. `ferry start` parses them once and hands the same
// arguments to both child processes, each of which applies them to what it loaded.
import { parseArgs } from 'node:util';
import type { GatewayConfig } from './types.js';
import { DEFAULT_PATHS } from '../common/default-paths.js';

export const OVERRIDE_OPTIONS = {
  rules: { type: 'string' },
  data: { type: 'string' },
  'mqtt-host': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'mqtts-port': { type: 'string' },
  'notify-host': { type: 'string' },
  'notify-port': { type: 'string' },
  socket: { type: 'string' },
  'payment-url': { type: 'string' },
  'sim-host': { type: 'string' },
  'sim-port': { type: 'string' },
  'reply-wait-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'management-host': { type: 'string' },
  'management-port': { type: 'string' },
} as const;

export const OVERRIDE_HELP = `  --rules DIR          rule files (default ${DEFAULT_PATHS.rules})
  --data DIR           data directory: store and channel socket (default ${DEFAULT_PATHS.data})
  --mqtt-host ADDR     MQTT listen address (gateway.yaml mqtt.host)
  --mqtt-port N        MQTT port (mqtt.port, 1883)
  --mqtts-port N       MQTT over TLS port (mqtt.tls.port, 8883)
  --notify-host ADDR   payment notification endpoint address (notify.host)
  --notify-port N      payment notification endpoint port (notify.port)
  --socket PATH        ferry channel socket (channel.socket, relative to --data)
  --payment-url URL    payment server (payment.url; none: embedded simulator)
  --sim-host ADDR      embedded payment simulator address (payment.simulatorHost)
  --sim-port N         embedded payment simulator port (payment.simulatorPort)
  --reply-wait-ms N    how long a kiosk's payment answer waits for a final result
  --log-level LEVEL    trace, debug, info, warn, error, fatal (log.level)
  --management-host ADDR  query API address (management.host, 127.0.0.1)
  --management-port N     query API port (management.port, 8470)`;

export interface Overrides {
  rulesDir: string;
  dataDir: string;
  values: Record<string, string | undefined>;
}

export function parseOverrides(args: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}): Overrides & { rest: Record<string, unknown> } {
  const { values } = parseArgs({ args, options: { ...OVERRIDE_OPTIONS, ...extra }, strict: true, allowPositionals: false });
  const v = values as Record<string, string | undefined>;
  return { rulesDir: v.rules ?? DEFAULT_PATHS.rules, dataDir: v.data ?? DEFAULT_PATHS.data, values: v, rest: values };
}

export function toArgs(o: Overrides): string[] {
  const args: string[] = [];
  for (const key of Object.keys(OVERRIDE_OPTIONS)) {
    const value = key === 'rules' ? o.rulesDir : key === 'data' ? o.dataDir : o.values[key];
    if (value !== undefined) args.push(`--${key}`, value);
  }
  return args;
}

export function applyOverrides(config: GatewayConfig, o: Overrides): GatewayConfig {
  const v = o.values;
  const port = (name: string, fallback: number) => {
    const raw = v[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number, not ${raw}`);
    return n;
  };
  const int = (name: string, fallback: number) => {
    const raw = v[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${raw}`);
    return n;
  };
  const tls = config.mqtt.tls ? { ...config.mqtt.tls, port: port('mqtts-port', config.mqtt.tls.port) } : undefined;
  const paymentUrl = v['payment-url'] ?? config.payment.url;
  if (paymentUrl !== null && !/^https?:\/\//.test(paymentUrl)) throw new Error(`--payment-url must be an http(s) URL, not ${paymentUrl}`);
  return Object.freeze({
    ...config,
    mqtt: { host: v['mqtt-host'] ?? config.mqtt.host, port: port('mqtt-port', config.mqtt.port), ...(tls ? { tls } : {}) },
    channel: { socket: v.socket ?? config.channel.socket },
    payment: {
      ...config.payment,
      url: paymentUrl,
      simulatorHost: v['sim-host'] ?? config.payment.simulatorHost,
      simulatorPort: port('sim-port', config.payment.simulatorPort),
    },
    notify: { ...config.notify, host: v['notify-host'] ?? config.notify.host, port: port('notify-port', config.notify.port) },
    limits: { ...config.limits, replyWaitMs: int('reply-wait-ms', config.limits.replyWaitMs) },
    log: { level: v['log-level'] ?? config.log.level },
    management: config.management && {
      ...config.management,
      host: v['management-host'] ?? config.management.host,
      port: port('management-port', config.management.port),
    },
  });
}

// For the child processes' entry files: bad rules end the process with the problems
// listed (fail closed), not with a stack trace.
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    process.stderr.write(`ferry: refusing to run: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
