// IPv4/IPv6 addresses and CIDR prefixes of firewall.yaml, parsed to numbers so that the
// loader can refuse what nft would refuse or silently change: host bits set under the
// prefix (nft would widen `10.0.0.1/8` without a word) and overlapping entries (an
// nftables interval set refuses them with a message that names no line).
import { isIP } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  text: string; // normalised: `10.20.0.0/16`, `fd00:20::/48`, or a bare address for /32 and /128
  first: bigint;
  last: bigint;
}

export function parseCidr(input: string): Cidr | string {
  const slash = input.indexOf('/');
  const address = slash < 0 ? input : input.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return `"${input}" is not an IPv4 or IPv6 address or prefix`;
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : input.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) return `"${input}" has a bad prefix length (0..${bits})`;
  const prefix = Number(prefixText);
  const value = family === 4 ? ipv4Value(address) : ipv6Value(address);
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  if ((value & hostMask) !== 0n) {
    return `"${input}" has host bits set under /${prefix}; the network is ${format(family, value & ~hostMask)}/${prefix}`;
  }
  const text = prefix === bits ? format(family, value) : `${format(family, value)}/${prefix}`;
  return { family, text, first: value, last: value | hostMask };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

// isIP has already accepted the text, so only the forms it accepts need handling:
// `::` once at most, and an IPv4 tail (`::ffff:10.0.0.1`).
function ipv6Value(address: string): bigint {
  let text = address.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = Number(ipv4Value(v4[1]!));
    text = `${text.slice(0, v4.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...zeros, ...tailParts].reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function format(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes `::`, the first such run on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
