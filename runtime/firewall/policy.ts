// firewall.yaml: which interface is which side, who may reach the gateway on each, and
// where the payment side may go. Checked like the other rule files (strict schema,
// unknown keys refused, every problem with file:line:column), then for meaning:
// addresses and prefixes that nft would take differently from what the operator wrote
// are refused rather than corrected. Ports left out default to gateway.yaml's, so the
// firewall and the listeners cannot drift apart.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { problemAt, readYaml, schemaProblem, type Segment, type YamlSource } from '../rules/yaml-source.js';
import type { GatewayConfig, RuleProblem } from '../rules/types.js';
import { overlaps, parseCidr, type Cidr } from './addresses.js';

export const FIREWALL_FILE = 'firewall.yaml';

export const FIREWALL_BOUNDS = Object.freeze({
  // A hospital has a few medical VLANs, not hundreds; a long list is more likely a
  // paste of the wrong thing, and every entry is one more interval in the kernel's set.
  subnetsMax: 64,
  addressesMax: 16,
  portsMax: 16,
  // A site has two to four time servers; more is a paste of a pool list.
  ntpServersMax: 8,
  // A PostgreSQL cluster of a pair: a primary and its standbys (pg_auto_failover,
  // Patroni), perhaps a monitor; more is a paste of the wrong list.
  postgresEndpointsMax: 8,
  // IFNAMSIZ is 16 bytes with the terminating NUL.
  interfaceNameCharsMax: 15,
});

export const FIREWALL_DEFAULTS = Object.freeze({
  managementPorts: Object.freeze([22]),
});

// Letters, digits and `_ . -`: what `ip link` names in practice, and nothing that would
// need quoting inside an nft string.
const INTERFACE = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,${FIREWALL_BOUNDS.interfaceNameCharsMax - 1}}$`;

export type Side = 'medical' | 'payment' | 'management';
export const NTP_PORT = 123;
export const POSTGRES_PORT_DEFAULT = 5432;
// VRRP (RFC 5798) is IP protocol 112; keepalived speaks it, unicast to the peer.
export const VRRP_PROTOCOL = 112;

export interface NtpServer {
  address: Cidr; // one host: /32 or /128
  interface: Side; // the NIC the gateway reaches it by
}

// One box of an active/standby pair (docs/ha.md): the inner side connects to the shared
// PostgreSQL endpoints and exchanges VRRP with the other box, on the HA NIC when there
// is one, else on the medical NIC. Nothing else about the pair passes the firewall.
export interface HaPolicy {
  interface: string; // the NIC it goes through: interfaces.ha, else interfaces.medical
  postgres: readonly { address: Cidr; port: number }[];
  vrrpPeer: Cidr | null; // one host; null: no keepalived (devices walk a list of addresses)
}

export interface FirewallPolicy {
  interfaces: { medical: string; payment: string; management: string | null; ha: string | null };
  ha: HaPolicy | null;
  ntp: readonly NtpServer[];
  medical: { subnets: readonly Cidr[]; mqttPorts: readonly number[] };
  payment: { servers: readonly Cidr[]; port: number; notify: { sources: readonly Cidr[]; port: number } };
  management: { sources: readonly Cidr[]; ports: readonly number[] } | null;
}

interface RawPolicy {
  interfaces: { medical: string; payment: string; management?: string | null; ha?: string | null };
  ha?: { postgres: { address: string; port?: number }[]; vrrpPeer?: string | null };
  medical: { subnets: string[]; mqttPorts?: number[] };
  payment: { servers: string[]; port?: number; notify?: { sources?: string[]; port?: number } | null };
  management?: { sources: string[]; ports?: number[] };
  ntp?: { address: string; interface: Side }[];
}

const port = { type: 'integer', minimum: 1, maximum: 65535 };
const ports = { type: 'array', minItems: 1, maxItems: FIREWALL_BOUNDS.portsMax, uniqueItems: true, items: port };
const addresses = (max: number) => ({ type: 'array', minItems: 1, maxItems: max, items: { type: 'string', minLength: 1, maxLength: 64 } });

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['interfaces', 'medical', 'payment'],
  properties: {
    interfaces: {
      type: 'object',
      additionalProperties: false,
      required: ['medical', 'payment'],
      properties: {
        medical: { type: 'string', pattern: INTERFACE },
        payment: { type: 'string', pattern: INTERFACE },
        management: { type: ['string', 'null'], pattern: INTERFACE },
        ha: { type: ['string', 'null'], pattern: INTERFACE },
      },
    },
    ha: {
      type: 'object',
      additionalProperties: false,
      required: ['postgres'],
      properties: {
        postgres: {
          type: 'array', minItems: 1, maxItems: FIREWALL_BOUNDS.postgresEndpointsMax,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['address'],
            properties: { address: { type: 'string', minLength: 1, maxLength: 64 }, port },
          },
        },
        vrrpPeer: { type: ['string', 'null'], minLength: 1, maxLength: 64 },
      },
    },
    medical: {
      type: 'object',
      additionalProperties: false,
      required: ['subnets'],
      properties: { subnets: addresses(FIREWALL_BOUNDS.subnetsMax), mqttPorts: ports },
    },
    payment: {
      type: 'object',
      additionalProperties: false,
      required: ['servers'],
      properties: {
        servers: addresses(FIREWALL_BOUNDS.addressesMax),
        port,
        // `notify:` with every key commented out is an empty entry, not an error.
        notify: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { sources: addresses(FIREWALL_BOUNDS.addressesMax), port },
        },
      },
    },
    management: {
      type: 'object',
      additionalProperties: false,
      required: ['sources'],
      properties: { sources: addresses(FIREWALL_BOUNDS.subnetsMax), ports },
    },
    ntp: {
      type: 'array',
      maxItems: FIREWALL_BOUNDS.ntpServersMax,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['address', 'interface'],
        properties: {
          address: { type: 'string', minLength: 1, maxLength: 64 },
          interface: { enum: ['medical', 'payment', 'management'] },
        },
      },
    },
  },
};

let validator: ValidateFunction | null = null;

function validate(data: unknown): ValidateFunction {
  validator ??= new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(schema);
  validator(data);
  return validator;
}

// The gateway's own listeners, from which the firewall's ports default.
export interface GatewayPorts {
  mqttPorts: number[]; // plain and TLS; 0 (a test's "any free port") is left out
  notifyPort: number | null;
  paymentPort: number | null; // of payment.url; null when the url is null
}

export function gatewayPorts(gateway: GatewayConfig): GatewayPorts {
  const mqtt = [gateway.mqtt.port, ...(gateway.mqtt.tls ? [gateway.mqtt.tls.port] : [])].filter((p) => p !== 0);
  let paymentPort: number | null = null;
  if (gateway.payment.url !== null) {
    const url = new URL(gateway.payment.url);
    paymentPort = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  }
  return { mqttPorts: [...new Set(mqtt)], notifyPort: gateway.notify.port === 0 ? null : gateway.notify.port, paymentPort };
}

// Problems are appended; null when the file cannot be turned into a policy.
export function buildFirewall(src: YamlSource, ports: GatewayPorts, problems: RuleProblem[]): FirewallPolicy | null {
  const check = validate(src.data);
  if (check.errors) {
    for (const err of check.errors) problems.push(schemaProblem(src, err));
    return null;
  }
  const raw = src.data as RawPolicy;
  const before = problems.length;
  const at = (path: Segment[], message: string, key = false) => problems.push(problemAt(src, path, message, key));
  const cidrs = (path: Segment[], list: string[]) => parseList(src, path, list, problems);

  const management = raw.interfaces.management ?? null;
  const haNic = raw.interfaces.ha ?? null;
  checkInterfaces(raw, at);
  if (haNic !== null && raw.ha === undefined) at(['interfaces', 'ha'], 'an HA interface needs an `ha:` section naming the PostgreSQL endpoints it reaches');
  if (management !== null && raw.management === undefined) {
    at(['interfaces', 'management'], 'a management interface needs a `management:` section with its allowed `sources`');
  }
  if (management === null && raw.management !== undefined) {
    at(['management'], 'management sources are given but `interfaces.management` is not: name the interface they arrive on', true);
  }
  const mqttPorts = raw.medical.mqttPorts ?? ports.mqttPorts;
  if (mqttPorts.length === 0) at(['medical'], 'missing key "mqttPorts": gateway.yaml gives no fixed MQTT port to default to');
  const paymentPort = raw.payment.port ?? ports.paymentPort;
  if (paymentPort === null) at(['payment'], 'missing key "port": gateway.yaml payment.url is null, so there is no port to default to');
  const notifyPort = raw.payment.notify?.port ?? ports.notifyPort;
  if (notifyPort === null) at(['payment'], 'missing key "notify.port": gateway.yaml notify.port is 0, so there is no port to default to');

  const servers = cidrs(['payment', 'servers'], raw.payment.servers);
  const policy: FirewallPolicy = {
    interfaces: { medical: raw.interfaces.medical, payment: raw.interfaces.payment, management, ha: haNic },
    ha: raw.ha ? haPolicy(src, raw.ha, haNic ?? raw.interfaces.medical, problems) : null,
    ntp: ntpServers(src, raw.ntp ?? [], management !== null, problems),
    medical: { subnets: cidrs(['medical', 'subnets'], raw.medical.subnets), mqttPorts: [...mqttPorts] },
    payment: {
      servers,
      port: paymentPort ?? 0,
      notify: {
        sources: raw.payment.notify?.sources ? cidrs(['payment', 'notify', 'sources'], raw.payment.notify.sources) : servers,
        port: notifyPort ?? 0,
      },
    },
    management: raw.management && management !== null
      ? { sources: cidrs(['management', 'sources'], raw.management.sources), ports: [...(raw.management.ports ?? FIREWALL_DEFAULTS.managementPorts)] }
      : null,
  };
  return problems.length === before ? deepFreeze(policy) : null;
}

function checkInterfaces(raw: RawPolicy, at: (path: Segment[], message: string) => void): void {
  const seen = new Map<string, string>();
  for (const side of ['medical', 'payment', 'management', 'ha'] as const) {
    const name = raw.interfaces[side];
    if (name === undefined || name === null) continue;
    if (name === 'lo') at(['interfaces', side], 'the loopback interface is always allowed and cannot be a side of the gateway');
    const other = seen.get(name);
    if (other !== undefined) at(['interfaces', side], `"${name}" is already the ${other} interface; each side needs its own NIC`);
    else seen.set(name, side);
  }
}

// The pair's endpoints: each PostgreSQL endpoint one host and port (a prefix would open
// the database port of a whole range), named once; the VRRP peer one host.
function haPolicy(src: YamlSource, raw: NonNullable<RawPolicy['ha']>, nic: string, problems: RuleProblem[]): HaPolicy {
  const postgres: { address: Cidr; port: number }[] = [];
  raw.postgres.forEach((entry, index) => {
    const path: Segment[] = ['ha', 'postgres', index, 'address'];
    const parsed = parseCidr(entry.address);
    if (typeof parsed === 'string') return void problems.push(problemAt(src, path, parsed));
    if (parsed.first !== parsed.last) return void problems.push(problemAt(src, path, `"${entry.address}" is a prefix; name each PostgreSQL server by its address`));
    const port = entry.port ?? POSTGRES_PORT_DEFAULT;
    const clash = postgres.findIndex((o) => overlaps(o.address, parsed) && o.port === port);
    if (clash >= 0) return void problems.push(problemAt(src, path, `"${entry.address}" port ${port} is already ha.postgres[${clash}]`));
    postgres.push({ address: parsed, port });
  });
  let vrrpPeer: Cidr | null = null;
  if (raw.vrrpPeer !== undefined && raw.vrrpPeer !== null) {
    const parsed = parseCidr(raw.vrrpPeer);
    if (typeof parsed === 'string') problems.push(problemAt(src, ['ha', 'vrrpPeer'], parsed));
    else if (parsed.first !== parsed.last) problems.push(problemAt(src, ['ha', 'vrrpPeer'], `"${raw.vrrpPeer}" is a prefix; name the other box by its address`));
    else vrrpPeer = parsed;
  }
  return { interface: nic, postgres, vrrpPeer };
}

// Time servers: each one host (a prefix would open UDP 123 to a whole range), named once,
// on an interface the gateway has.
function ntpServers(src: YamlSource, list: { address: string; interface: Side }[], hasManagement: boolean, problems: RuleProblem[]): NtpServer[] {
  const out: NtpServer[] = [];
  list.forEach((entry, index) => {
    const path: Segment[] = ['ntp', index, 'address'];
    const parsed = parseCidr(entry.address);
    if (typeof parsed === 'string') return void problems.push(problemAt(src, path, parsed));
    if (parsed.first !== parsed.last) return void problems.push(problemAt(src, path, `"${entry.address}" is a prefix; name each time server by its address`));
    const clash = out.findIndex((o) => overlaps(o.address, parsed));
    if (clash >= 0) return void problems.push(problemAt(src, path, `"${entry.address}" is already ntp[${clash}]`));
    if (entry.interface === 'management' && !hasManagement) {
      return void problems.push(problemAt(src, ['ntp', index, 'interface'], 'interface "management" is given but `interfaces.management` is not set'));
    }
    out.push({ address: parsed, interface: entry.interface });
  });
  return out;
}

// Addresses of one list: each valid, none overlapping another (nft interval sets refuse
// overlaps). A payment provider may publish a range for its servers, so prefixes are
// allowed everywhere.
function parseList(src: YamlSource, path: Segment[], list: string[], problems: RuleProblem[]): Cidr[] {
  const out: { cidr: Cidr; index: number }[] = [];
  list.forEach((text, index) => {
    const parsed = parseCidr(text);
    if (typeof parsed === 'string') {
      problems.push(problemAt(src, [...path, index], parsed));
      return;
    }
    const clash = out.find((o) => overlaps(o.cidr, parsed));
    if (clash) {
      problems.push(problemAt(src, [...path, index], `"${text}" overlaps ${path.join('.')}[${clash.index}] ("${list[clash.index]}")`));
      return;
    }
    out.push({ cidr: parsed, index });
  });
  return out.map((o) => o.cidr);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) if (typeof v !== 'bigint') deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// For the rule loader: firewall.yaml is checked whenever it is present, so that
// `ferry rules check` names its problems with the others. It is optional there
// (a gateway in a test, or one whose firewall is managed elsewhere, has none).
export function checkFirewallFile(dir: string, gateway: GatewayConfig, problems: RuleProblem[]): void {
  if (!existsSync(join(dir, FIREWALL_FILE))) return;
  const src = readYaml(dir, FIREWALL_FILE, problems);
  if (src) buildFirewall(src, gatewayPorts(gateway), problems);
}
