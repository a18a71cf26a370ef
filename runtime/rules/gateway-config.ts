// gateway.yaml: listeners, the payment server, limits and logging. This is the only
// rule file the outer (payment-side) process reads: it never sees device credentials.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { fileValidators } from './file-schemas.js';
import { RULE_BOUNDS, RULE_DEFAULTS as D, RULE_FILES, deepFreeze } from './defaults.js';
import { problemAt, readYaml, schemaProblem, type YamlSource } from './yaml-source.js';
import { isTimeZone, TIME_ZONE_DEFAULT } from '../common/hospital-day.js';
import { RulesError, type GatewayConfig, type ManagementConfig, type PaymentTls, type RetentionConfig, type RuleProblem, type StoreConfig, type TlsListen } from './types.js';

interface RawGateway {
  timeZone?: string;
  mqtt?: { host?: string; port?: number; tls?: { port: number; cert: string; key: string; ca?: string; requireClientCert?: boolean } };
  channel?: { socket?: string };
  payment: { url: string | null; secret?: string; secretFile?: string; timeoutMs?: number; simulatorHost?: string; simulatorPort?: number; tls?: PaymentTls };
  notify?: { host?: string; port?: number; toleranceSec?: number };
  limits?: { maxPayloadBytes?: number; replyWaitMs?: number };
  log?: { level?: string };
  management?: { host?: string; port?: number; token?: string; tokenFile?: string; adminToken?: string; adminTokenFile?: string };
  retention?: Partial<RetentionConfig>;
  store?: { backend?: 'leveldb' | 'postgres'; postgres?: { urlFile: string } };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function buildGateway(src: YamlSource, dir: string, problems: RuleProblem[]): GatewayConfig | null {
  const validate = fileValidators().gateway;
  if (!validate(src.data)) {
    for (const err of validate.errors ?? []) problems.push(schemaProblem(src, err));
    return null;
  }
  const raw = src.data as RawGateway;
  const before = problems.length;
  if (raw.timeZone !== undefined && !isTimeZone(raw.timeZone)) {
    problems.push(problemAt(src, ['timeZone'], `unknown time zone ${JSON.stringify(raw.timeZone)}; give an IANA zone such as Asia/Shanghai`));
  }
  checkHosts(src, raw, problems);
  checkUrl(src, raw.payment.url, problems);
  const secret = readSecret(src, dir, raw.payment, problems);
  const tls = raw.mqtt?.tls ? buildTls(src, dir, raw.mqtt.tls, problems) : undefined;
  const paymentTls = raw.payment.tls ? buildPaymentTls(src, dir, raw.payment, problems) : undefined;
  const config: GatewayConfig = {
    timeZone: raw.timeZone ?? TIME_ZONE_DEFAULT,
    mqtt: { host: raw.mqtt?.host ?? D.mqtt.host, port: raw.mqtt?.port ?? D.mqtt.port, ...(tls ? { tls } : {}) },
    channel: { socket: raw.channel?.socket ?? D.channel.socket },
    payment: {
      url: raw.payment.url,
      secret: secret ?? '',
      timeoutMs: raw.payment.timeoutMs ?? D.payment.timeoutMs,
      simulatorHost: raw.payment.simulatorHost ?? D.payment.simulatorHost,
      simulatorPort: raw.payment.simulatorPort ?? D.payment.simulatorPort,
      ...(paymentTls ? { tls: paymentTls } : {}),
    },
    notify: {
      host: raw.notify?.host ?? D.notify.host,
      port: raw.notify?.port ?? D.notify.port,
      toleranceSec: raw.notify?.toleranceSec ?? D.notify.toleranceSec,
    },
    limits: {
      maxPayloadBytes: raw.limits?.maxPayloadBytes ?? D.limits.maxPayloadBytes,
      replyWaitMs: raw.limits?.replyWaitMs ?? D.limits.replyWaitMs,
    },
    log: { level: raw.log?.level ?? D.log.level },
    management: raw.management ? buildManagement(src, dir, raw.management, problems) : null,
    retention: buildRetention(src, raw.retention ?? {}, problems),
    store: buildStore(src, dir, raw.store ?? {}, problems),
  };
  checkPortClash(src, config, problems);
  return problems.length === before ? deepFreeze(config) : null;
}

function checkHosts(src: YamlSource, raw: RawGateway, problems: RuleProblem[]): void {
  const hosts: [string[], string | undefined][] = [
    [['mqtt', 'host'], raw.mqtt?.host],
    [['notify', 'host'], raw.notify?.host],
    [['payment', 'simulatorHost'], raw.payment.simulatorHost],
    [['management', 'host'], raw.management?.host],
  ];
  for (const [path, host] of hosts) {
    if (host !== undefined && isIP(host) === 0 && !HOSTNAME.test(host)) {
      problems.push(problemAt(src, path, 'must be an IP address or a host name'));
    }
  }
}

function checkUrl(src: YamlSource, url: string | null, problems: RuleProblem[]): void {
  if (url === null) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push(problemAt(src, ['payment', 'url'], 'must be null (embedded simulator) or an http(s) URL'));
    return;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    problems.push(problemAt(src, ['payment', 'url'], `must be an http(s) URL, not ${parsed.protocol}`));
  } else if (parsed.username || parsed.password) {
    problems.push(problemAt(src, ['payment', 'url'], 'must not carry credentials; the gateway signs requests with payment.secret'));
  } else if (parsed.search || parsed.hash) {
    problems.push(problemAt(src, ['payment', 'url'], 'must be a base URL, without query or fragment'));
  }
}

function readSecret(src: YamlSource, dir: string, payment: RawGateway['payment'], problems: RuleProblem[]): string | null {
  const hasSecret = payment.secret !== undefined;
  const hasFile = payment.secretFile !== undefined;
  if (hasSecret === hasFile) {
    const message = hasSecret ? 'give either secret or secretFile, not both' : 'missing required key "secret" (or "secretFile")';
    problems.push(problemAt(src, hasSecret ? ['payment', 'secretFile'] : ['payment'], message, hasSecret));
    return null;
  }
  const path = hasSecret ? ['payment', 'secret'] : ['payment', 'secretFile'];
  let secret = payment.secret;
  if (payment.secretFile !== undefined) {
    const file = resolve(dir, payment.secretFile);
    try {
      if (statSync(file).size > RULE_BOUNDS.secretFileBytesMax) throw new Error(`larger than ${RULE_BOUNDS.secretFileBytesMax} bytes`);
      secret = readFileSync(file, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(problemAt(src, path, `cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`));
      return null;
    }
  }
  if (secret === undefined || secret.length < RULE_BOUNDS.secretCharsMin) {
    problems.push(problemAt(src, path, `the secret must be at least ${RULE_BOUNDS.secretCharsMin} characters (it has ${secret?.length ?? 0})`));
    return null;
  }
  return secret;
}

function buildTls(src: YamlSource, dir: string, raw: NonNullable<NonNullable<RawGateway['mqtt']>['tls']>, problems: RuleProblem[]): TlsListen {
  for (const key of ['cert', 'key', 'ca'] as const) {
    const p = raw[key];
    if (p !== undefined && !existsSync(resolve(dir, p))) {
      problems.push(problemAt(src, ['mqtt', 'tls', key], `file not found: ${resolve(dir, p)}`));
    }
  }
  if (raw.requireClientCert === true && raw.ca === undefined) {
    problems.push(problemAt(src, ['mqtt', 'tls', 'requireClientCert'], 'client certificates need `ca` to check them against'));
  }
  return {
    port: raw.port,
    cert: raw.cert,
    key: raw.key,
    ...(raw.ca !== undefined ? { ca: raw.ca } : {}),
    requireClientCert: raw.requireClientCert ?? D.tls.requireClientCert,
  };
}

// Mutual TLS toward the payment server: our certificate and key come as a pair, and only
// an https URL uses them (a null URL, the simulator, may be overridden with an https one).
function buildPaymentTls(src: YamlSource, dir: string, payment: RawGateway['payment'], problems: RuleProblem[]): PaymentTls {
  const raw = payment.tls!;
  for (const key of ['ca', 'cert', 'key'] as const) {
    const p = raw[key];
    if (p !== undefined && !existsSync(resolve(dir, p))) {
      problems.push(problemAt(src, ['payment', 'tls', key], `file not found: ${resolve(dir, p)}`));
    }
  }
  if ((raw.cert === undefined) !== (raw.key === undefined)) {
    const missing = raw.cert === undefined ? 'cert' : 'key';
    problems.push(problemAt(src, ['payment', 'tls'], `a client certificate needs both cert and key (${missing} is missing)`));
  }
  if (payment.url !== null && payment.url.startsWith('http:')) {
    problems.push(problemAt(src, ['payment', 'tls'], 'payment.tls needs an https payment.url'));
  }
  return { ...raw };
}

// The query API's two bearer tokens, each given inline or in a file like payment.secret.
function buildManagement(src: YamlSource, dir: string, raw: NonNullable<RawGateway['management']>, problems: RuleProblem[]): ManagementConfig {
  const token = readToken(src, dir, raw.token, raw.tokenFile, 'token', problems);
  const adminToken = readToken(src, dir, raw.adminToken, raw.adminTokenFile, 'adminToken', problems);
  if (token !== null && token === adminToken) {
    problems.push(problemAt(src, ['management', raw.adminToken !== undefined ? 'adminToken' : 'adminTokenFile'], 'must differ from the read token'));
  }
  return { host: raw.host ?? D.management.host, port: raw.port ?? D.management.port, token: token ?? '', adminToken: adminToken ?? '' };
}

function readToken(src: YamlSource, dir: string, inline: string | undefined, file: string | undefined, key: string, problems: RuleProblem[]): string | null {
  if ((inline === undefined) === (file === undefined)) {
    const message = inline !== undefined ? `give either ${key} or ${key}File, not both` : `missing required key "${key}" (or "${key}File")`;
    problems.push(problemAt(src, inline !== undefined ? ['management', `${key}File`] : ['management'], message, inline !== undefined));
    return null;
  }
  const path = inline !== undefined ? ['management', key] : ['management', `${key}File`];
  let token = inline;
  if (file !== undefined) {
    const full = resolve(dir, file);
    try {
      if (statSync(full).size > RULE_BOUNDS.secretFileBytesMax) throw new Error(`larger than ${RULE_BOUNDS.secretFileBytesMax} bytes`);
      token = readFileSync(full, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(problemAt(src, path, `cannot read ${full}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`));
      return null;
    }
  }
  if (token === undefined || token.length < RULE_BOUNDS.tokenCharsMin) {
    problems.push(problemAt(src, path, `the token must be at least ${RULE_BOUNDS.tokenCharsMin} characters (it has ${token?.length ?? 0})`));
    return null;
  }
  return token;
}

// The connection string stays in its file until the inner side opens the store (the
// outer side loads gateway.yaml too, and must never need the database's credentials).
function buildStore(src: YamlSource, dir: string, raw: NonNullable<RawGateway['store']>, problems: RuleProblem[]): StoreConfig {
  const backend = raw.backend ?? D.store.backend;
  if (backend === 'leveldb') {
    if (raw.postgres !== undefined) problems.push(problemAt(src, ['store', 'postgres'], 'is only for `backend: postgres`; remove it or set the backend'));
    return { backend };
  }
  if (raw.postgres === undefined) {
    problems.push(problemAt(src, ['store'], '`backend: postgres` needs `postgres: { urlFile: <file holding the connection string> }`'));
    return { backend: 'leveldb' };
  }
  return { backend, postgres: { urlFile: resolve(dir, raw.postgres.urlFile) } };
}

function buildRetention(src: YamlSource, raw: Partial<RetentionConfig>, problems: RuleProblem[]): RetentionConfig {
  const retention = { ...D.retention, ...raw };
  if (retention.auditDays < RULE_BOUNDS.auditDaysMin) {
    problems.push(problemAt(src, ['retention', 'auditDays'], `the audit log is kept at least ${RULE_BOUNDS.auditDaysMin} days (got ${retention.auditDays})`));
  }
  // A resent request answers from what its idempotency record points at.
  const shortest = Math.min(retention.paymentsDays, retention.billsDays, retention.registrationsDays, retention.dispatchesDays);
  if (retention.idempotencyDays > shortest) {
    problems.push(problemAt(src, ['retention', 'idempotencyDays'], `must not exceed the other kinds' days (${shortest}): a resent request would find what it points at gone`));
  }
  return retention;
}

// Two listeners on one port cannot both start; say so now rather than at EADDRINUSE.
// Port 0 (any free port, used by tests) never clashes.
function checkPortClash(src: YamlSource, config: GatewayConfig, problems: RuleProblem[]): void {
  const listeners: [string[], number][] = [
    [['mqtt', 'port'], config.mqtt.port],
    [['notify', 'port'], config.notify.port],
  ];
  if (config.management) listeners.push([['management', 'port'], config.management.port]);
  if (config.mqtt.tls) listeners.push([['mqtt', 'tls', 'port'], config.mqtt.tls.port]);
  if (config.payment.url === null) listeners.push([['payment', 'simulatorPort'], config.payment.simulatorPort]);
  const seen = new Map<number, string>();
  for (const [path, port] of listeners) {
    if (port === 0) continue;
    const other = seen.get(port);
    if (other !== undefined) problems.push(problemAt(src, path, `port ${port} is already used by ${other}`));
    else seen.set(port, path.join('.'));
  }
}

// The store section of gateway.yaml under rulesDir, for the commands that read a stopped
// gateway's store (`ferry query --data`, `ferry audit verify`): LevelDB when there is no
// gateway.yaml there (a copied data directory comes without its rules). A gateway.yaml
// that does not load is refused with its problems, as at start.
export function storeConfigOf(rulesDir: string): StoreConfig {
  const problems: RuleProblem[] = [];
  const dir = resolve(rulesDir);
  if (!existsSync(resolve(dir, RULE_FILES.gateway))) return { backend: 'leveldb' };
  const src = readYaml(dir, RULE_FILES.gateway, problems);
  const config = src ? buildGateway(src, dir, problems) : null;
  if (!config) throw new RulesError(problems);
  return config.store;
}
