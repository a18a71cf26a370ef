// Device passwords as they are stored in devices.yaml: `scrypt$N$r$p$<salt>$<hash>`
// (salt and hash in standard base64). The rule files hold only this encoding; the
// password itself is shown once by `ferry devices add` and never written anywhere.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const SCRYPT_N = 16384;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
// A rules file could name any N; cap the memory one CONNECT may cost (128 * N * r bytes).
export const SCRYPT_MAX_MEM_BYTES = 64 * 1024 * 1024;
const SCRYPT_P_MAX = 16;
const SECRET_BYTES = 24;

const ENCODED = /^scrypt\$([0-9]{1,8})\$([0-9]{1,3})\$([0-9]{1,3})\$([A-Za-z0-9+/]{16,128}={0,2})\$([A-Za-z0-9+/]{16,128}={0,2})$/;

export interface ScryptParams { N: number; r: number; p: number; salt: Buffer; hash: Buffer }

// Null for anything that is not a well-formed, affordable scrypt encoding.
export function parseScrypt(encoded: string): ScryptParams | null {
  const m = ENCODED.exec(encoded);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (N < 2 || (N & (N - 1)) !== 0) return null; // scrypt requires a power of two
  if (r < 1 || p < 1 || p > SCRYPT_P_MAX) return null;
  if (128 * N * r > SCRYPT_MAX_MEM_BYTES) return null;
  if (salt.length < SALT_BYTES) return null;
  // Exactly KEY_BYTES: scrypt output is prefix-stable, so a truncated hash would still verify.
  if (hash.length !== KEY_BYTES) return null;
  return { N, r, p, salt, hash };
}

function derive(secret: string, salt: Buffer, keyLen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keyLen, { ...options, maxmem: SCRYPT_MAX_MEM_BYTES + 1024 * 1024 }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

export async function hashPassword(secret: string): Promise<string> {
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('assertion failed: a password is a non-empty string');
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, KEY_BYTES, { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P });
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(secret: string, encoded: string): Promise<boolean> {
  if (typeof secret !== 'string' || typeof encoded !== 'string') return false;
  const params = parseScrypt(encoded);
  if (!params) return false;
  const candidate = await derive(secret, params.salt, params.hash.length, { N: params.N, r: params.r, p: params.p });
  return timingSafeEqual(candidate, params.hash);
}

// What `ferry devices add` hands to the operator: 192 random bits, URL- and YAML-safe.
export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}
