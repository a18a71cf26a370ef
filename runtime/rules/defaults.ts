// Every default of the rule files in one place (docs/rules.md lists them per key), and
// the bounds the loader enforces. A key left out of a rule file takes its value here;
// nothing else in the runtime invents a default for a rule.

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export const RULE_DEFAULTS = deepFreeze({
  mqtt: { host: '0.0.0.0', port: 1883 },
  tls: { requireClientCert: false },
  channel: { socket: 'ferry.sock' },
  payment: { timeoutMs: 5000, simulatorHost: '127.0.0.1', simulatorPort: 8490 },
  notify: { host: '127.0.0.1', port: 8480, toleranceSec: 300 },
  limits: { maxPayloadBytes: 16384, replyWaitMs: 3000 },
  log: { level: 'info' },
  management: { host: '127.0.0.1', port: 8470 },
  store: { backend: 'leveldb' as 'leveldb' | 'postgres' },
  retention: { paymentsDays: 400, billsDays: 400, registrationsDays: 400, dispatchesDays: 90, idempotencyDays: 30, auditDays: 365 },
  device: { disabled: false },
  role: { subscribe: [] as string[] },
  // A message type without maxBytes takes limits.maxPayloadBytes of gateway.yaml,
  // which itself defaults to 16384 (at most 16 KiB unless the rules say otherwise).
  message: { rate: { perMinute: 60, burst: 20 } },
});

export const RULE_BOUNDS = deepFreeze({
  // Below 256 bytes not even the envelope fits; above 1 MiB a single message would
  // hold the broker's memory hostage.
  payloadBytesMin: 256,
  payloadBytesMax: 1024 * 1024,
  // The HMAC key must not be guessable: 32 characters is 192+ bits even for base64.
  secretCharsMin: 32,
  secretFileBytesMax: 4096,
  devicesMax: 10_000,
  messageTypesMax: 200,
  subscribeFiltersMax: 16,
  topicFilterCharsMax: 128,
  // Unix domain socket paths are limited to 108 bytes on Linux, data dir included.
  socketPathCharsMax: 100,
  ratePerMinuteMax: 60_000,
  rateBurstMax: 10_000,
  timeoutMsMin: 100,
  timeoutMsMax: 120_000,
  replyWaitMsMin: 100,
  replyWaitMsMax: 60_000,
  toleranceSecMin: 1,
  toleranceSecMax: 3600,
  // Body schemas are operator-written; bound how deep the checker walks them.
  schemaDepthMax: 32,
  // Management tokens are bearer secrets: as long as the payment secret.
  tokenCharsMin: 32,
  // The audit log is the record of who did what: kept at least half a year.
  auditDaysMin: 180,
  retentionDaysMax: 36_500,
});

// pino's level names (pino `lib/levels.js`), plus 'silent'.
export const LOG_LEVELS = Object.freeze(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const);

export const RULE_FILES = Object.freeze({
  gateway: 'gateway.yaml',
  devices: 'devices.yaml',
  roles: 'roles.yaml',
  messages: 'messages.yaml',
  departments: 'departments.yaml',
  triage: 'triage.yaml',
} as const);

export type RuleFileName = (typeof RULE_FILES)[keyof typeof RULE_FILES];

export { deepFreeze };
