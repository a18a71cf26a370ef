// Device authentication against rules/devices.yaml. scrypt is deliberately slow, so a
// verified credential is remembered as a SHA-256 digest of the password: a reconnect
// storm of a thousand kiosks then costs a thousand hashes, not a thousand scrypts. The
// cache entry is tied to the stored hash, so an operator who changes or disables a
// device is obeyed at the next connect.
//
// A device registered with `certFingerprint` logs in with its TLS client certificate
// instead: the handshake has verified the certificate against the configured CA, and the
// certificate's fingerprint must be the one registered for the id the device claims.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DeviceRule } from '../../rules/types.js';
import { verifyPassword } from '../../rules/password.js';
import { sameFingerprint } from '../../tls/fingerprint.js';

// More distinct devices than any hospital registers; bounds memory if rules grow.
const CACHE_ENTRIES_MAX = 100_000;

export type AuthOutcome =
  | { ok: true; device: DeviceRule }
  | { ok: false; reason: 'unknown_device' | 'disabled' | 'bad_password' | 'no_password' | 'bad_certificate' };

export class CredentialChecker {
  private readonly verified = new Map<string, { encoded: string; digest: Buffer }>();
  private devices: ReadonlyMap<string, DeviceRule>;

  constructor(devices: ReadonlyMap<string, DeviceRule>) {
    this.devices = devices;
  }

  replaceDevices(devices: ReadonlyMap<string, DeviceRule>): void {
    this.devices = devices;
  }

  // `certFingerprint`: of the client certificate the TLS handshake verified, if any.
  async check(id: string, password: Buffer | undefined, certFingerprint?: string): Promise<AuthOutcome> {
    const device = this.devices.get(id);
    if (!device) return { ok: false, reason: 'unknown_device' };
    if (device.disabled) return { ok: false, reason: 'disabled' };
    if (device.certFingerprint !== undefined && certFingerprint !== undefined) {
      // Another device's certificate never stands in for this one, password or not.
      if (!sameFingerprint(device.certFingerprint, certFingerprint)) return { ok: false, reason: 'bad_certificate' };
      return { ok: true, device };
    }
    if (!device.password || !password || password.length === 0) return { ok: false, reason: 'no_password' };
    const digest = createHash('sha256').update(password).digest();
    const cached = this.verified.get(id);
    if (cached && cached.encoded === device.password && timingSafeEqual(cached.digest, digest)) {
      return { ok: true, device };
    }
    if (!(await verifyPassword(password.toString('utf8'), device.password))) return { ok: false, reason: 'bad_password' };
    if (this.verified.size >= CACHE_ENTRIES_MAX) this.verified.clear();
    this.verified.set(id, { encoded: device.password, digest });
    return { ok: true, device };
  }
}
