// Policy → nftables ruleset: a pure function, so `ferry firewall plan` can show exactly
// what `apply` will load, and golden files can pin it.
//
// The shape (docs/firewall.md): one `table inet ferry`, base chains that drop by
// default, interfaces matched by name (`iifname`) so the table loads before the NICs
// exist or while they sit in another namespace, and a named counter on every drop rule
// so that `nft list counters` shows what was refused and where. The file replaces only
// our table, atomically: `nft -f` runs it as one transaction, and other tables survive.
import { createHash } from 'node:crypto';
import type { Cidr } from './addresses.js';
import { NTP_PORT, VRRP_PROTOCOL, type FirewallPolicy, type HaPolicy } from './policy.js';

export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'ferry';

export interface PlannedChain {
  name: string;
  // Base chains only: where the kernel calls the chain and what it does with a packet
  // that no rule decided. Regular chains (jump targets) have neither.
  hook?: 'input' | 'output' | 'forward';
  policy?: 'drop';
  rules: string[];
}

export interface Plan {
  id: string; // short hash of the policy, shown in the table's comment
  counters: string[];
  chains: PlannedChain[];
}

const BASE = { type: 'filter', prio: 0 } as const;

// IPv6 needs neighbour discovery to reach anything at all; it is link-local by design
// (hop limit 255 proves the sender is on the link), so it is accepted on the gateway's
// own NICs. Router advertisements are not: gateway addresses and routes are static.
const ND_TYPES = 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255';

export function planRuleset(policy: FirewallPolicy): Plan {
  const nics = [
    policy.interfaces.medical, policy.interfaces.payment,
    ...(policy.interfaces.management ? [policy.interfaces.management] : []),
    ...(policy.interfaces.ha ? [policy.interfaces.ha] : []),
  ];
  const chains: PlannedChain[] = [
    inputChain(policy, nics),
    medicalIn(policy),
    paymentIn(policy),
    ...(policy.management && policy.interfaces.management ? [managementIn(policy.management)] : []),
    ...(policy.interfaces.ha ? [haIn(policy.ha)] : []),
    outputChain(policy, nics),
    { name: 'forward', hook: 'forward', policy: 'drop', rules: [drop('forward_dropped')] },
  ];
  const counters = [...new Set(chains.flatMap((c) => c.rules.map(counterOf).filter((n): n is string => n !== null)))];
  return { id: policyId(policy), counters, chains };
}

function inputChain(policy: FirewallPolicy, nics: string[]): PlannedChain {
  const { medical, payment, management } = policy.interfaces;
  return {
    name: 'input', hook: 'input', policy: 'drop',
    rules: [
      'iifname "lo" accept',
      `ct state invalid ${drop('input_invalid')}`,
      'ct state established,related accept',
      `iifname ${names(nics)} ${ND_TYPES} accept`,
      `iifname ${quote(medical)} jump medical_in`,
      `iifname ${quote(payment)} jump payment_in`,
      ...(management && policy.management ? [`iifname ${quote(management)} jump management_in`] : []),
      ...(policy.interfaces.ha ? [`iifname ${quote(policy.interfaces.ha)} jump ha_in`] : []),
      // Any other interface: a NIC added later, a VPN, a container bridge.
      drop('input_other_dropped'),
    ],
  };
}

function medicalIn(policy: FirewallPolicy): PlannedChain {
  const ports = `tcp dport ${set(policy.medical.mqttPorts.map(String))}`;
  // The pair's VRRP arrives here when it has no NIC of its own.
  const vrrp = policy.interfaces.ha === null ? vrrpFrom(policy.ha) : [];
  return { name: 'medical_in', rules: [...byFamily('saddr', policy.medical.subnets, ports), ...vrrp, drop('medical_dropped')] };
}

// A NIC for the pair alone: the peer's VRRP in; the database's answers come back as
// established; nothing else.
function haIn(ha: HaPolicy | null): PlannedChain {
  return { name: 'ha_in', rules: [...vrrpFrom(ha), drop('ha_dropped')] };
}

function vrrpFrom(ha: HaPolicy | null): string[] {
  return ha?.vrrpPeer ? byFamily('saddr', [ha.vrrpPeer], vrrpMatch()) : [];
}

function vrrpMatch(): string {
  return `meta l4proto ${VRRP_PROTOCOL}`;
}

// The inner side's connections to the shared PostgreSQL endpoints, one rule per port,
// and VRRP to the peer, all on the pair's NIC.
function haOut(ha: HaPolicy | null): string[] {
  if (!ha) return [];
  const nic = quote(ha.interface);
  const ports = [...new Set(ha.postgres.map((e) => e.port))];
  const toDatabase = ports.flatMap((port) => byFamily('daddr', ha.postgres.filter((e) => e.port === port).map((e) => e.address), `tcp dport ${port}`));
  const toPeer = ha.vrrpPeer ? byFamily('daddr', [ha.vrrpPeer], vrrpMatch()) : [];
  return [...toDatabase, ...toPeer].map((r) => `oifname ${nic} ${r}`);
}

function paymentIn(policy: FirewallPolicy): PlannedChain {
  const { sources, port } = policy.payment.notify;
  return { name: 'payment_in', rules: [...byFamily('saddr', sources, `tcp dport ${port}`), drop('payment_dropped')] };
}

function managementIn(management: NonNullable<FirewallPolicy['management']>): PlannedChain {
  const ports = `tcp dport ${set(management.ports.map(String))}`;
  return { name: 'management_in', rules: [...byFamily('saddr', management.sources, ports), drop('management_dropped')] };
}

// The gateway starts connections toward the payment servers and, when firewall.yaml
// names them, its time servers (UDP 123, each on its own NIC; the answers come back as
// established). Everything else it sends is an answer (established) or loopback.
function outputChain(policy: FirewallPolicy, nics: string[]): PlannedChain {
  const toServers = byFamily('daddr', policy.payment.servers, `tcp dport ${policy.payment.port}`);
  const toTime = (['medical', 'payment', 'management'] as const).flatMap((side) => {
    const nic = policy.interfaces[side];
    const servers = policy.ntp.filter((n) => n.interface === side).map((n) => n.address);
    return nic === null ? [] : byFamily('daddr', servers, `udp dport ${NTP_PORT}`).map((r) => `oifname ${quote(nic)} ${r}`);
  });
  return {
    name: 'output', hook: 'output', policy: 'drop',
    rules: [
      'oifname "lo" accept',
      `ct state invalid ${drop('output_invalid')}`,
      'ct state established,related accept',
      `oifname ${names(nics)} ${ND_TYPES} accept`,
      ...toServers.map((r) => `oifname ${quote(policy.interfaces.payment)} ${r}`),
      ...toTime,
      ...haOut(policy.ha),
      drop('output_dropped'),
    ],
  };
}

// One rule per address family that has entries, because `ip` and `ip6` are different
// headers; an empty family gets no rule rather than an empty set.
function byFamily(direction: 'saddr' | 'daddr', cidrs: readonly Cidr[], match: string): string[] {
  const rules: string[] = [];
  for (const [family, keyword] of [[4, 'ip'], [6, 'ip6']] as const) {
    const list = cidrs.filter((c) => c.family === family).map((c) => c.text);
    if (list.length > 0) rules.push(`${keyword} ${direction} ${set(list)} ${match} accept`);
  }
  return rules;
}

function drop(counter: string): string {
  return `counter name "${counter}" drop`;
}

function counterOf(rule: string): string | null {
  return /counter name "([a-z_]+)"/.exec(rule)?.[1] ?? null;
}

function quote(name: string): string {
  return `"${name}"`;
}

function names(list: string[]): string {
  return set(list.map(quote));
}

function set(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function policyId(policy: FirewallPolicy): string {
  // Without time servers the id is what it was before firewall.yaml could name them.
  // Likewise without the pair's section and NIC; the keys in the order they always had.
  const { ha: haNic, ...nics } = policy.interfaces;
  const shown = {
    interfaces: haNic === null ? nics : policy.interfaces,
    ...(policy.ntp.length > 0 ? { ntp: policy.ntp } : {}),
    medical: policy.medical, payment: policy.payment, management: policy.management,
    ...(policy.ha !== null ? { ha: policy.ha } : {}),
  };
  const json = JSON.stringify(shown, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

// The file for `nft -f`. Its first two commands make sure the table exists, then delete
// it, so the same file works on a first install and on every later one; the whole file
// is one transaction, so a failure anywhere leaves the old table in place.
export function renderRuleset(plan: Plan, source: string): string {
  const out: string[] = [
    `# Generated by \`ferry firewall plan\` from ${source}; do not edit.`,
    '# Change the policy file and run `ferry firewall apply` instead.',
    `table ${TABLE_FAMILY} ${TABLE_NAME} {}`,
    `delete table ${TABLE_FAMILY} ${TABLE_NAME}`,
    `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
    `\tcomment "ferry plan ${plan.id}"`,
  ];
  out.push('', ...plan.counters.map((counter) => `\tcounter ${counter} {}`));
  for (const chain of plan.chains) {
    out.push('', `\tchain ${chain.name} {`);
    if (chain.hook) out.push(`\t\ttype ${BASE.type} hook ${chain.hook} priority filter; policy ${chain.policy};`);
    for (const rule of chain.rules) out.push(`\t\t${rule}`);
    out.push('\t}');
  }
  out.push('}', '');
  return out.join('\n');
}

export const BASE_CHAIN = BASE;
