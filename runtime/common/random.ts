// One seedable source of randomness for what must not be synchronised between
// processes (backoff jitter) yet must repeat in a test: the same seed gives the same
// sequence. Production seeds from the operating system. Not for secrets (nonces and
// ids use node:crypto directly).
import { randomBytes } from 'node:crypto';

export type Random = () => number; // uniform in [0, 1), as Math.random

// mulberry32: a 32-bit state, full period 2^32, and quick; plenty for spreading
// retries, which is all it is used for.
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function cryptoSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}

// A production source: seeded from the operating system, so that two gateways (or two
// restarts of one) do not retry in step.
export function systemRandom(): Random {
  return seededRandom(cryptoSeed());
}
