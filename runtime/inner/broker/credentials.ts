// Device authentication against rules/devices.yaml. scrypt is deliberately slow, so a
// verified credential is remembered as a SHA-256 digest of the password: a reconnect
// storm of a thousand kiosks then costs a thousand hashes, not a thousand scrypts. The
// cache entry is tied to the stored hash, so an operator who changes or disables a
// device is obeyed at the next connect.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DeviceRule } from '../../rules/types.js';
import { verifyPassword } from '../../rules/password.js';

// More distinct devices than any hospital registers; bounds memory if rules grow.
const CACHE_ENTRIES_MAX = 100_000;

export type AuthOutcome =
  | { ok: true; device: DeviceRule }
  | { ok: false; reason: 'unknown_device' | 'disabled' | 'bad_password' | 'no_password' };

export class CredentialChecker {
  private readonly verified = new Map<string, { encoded: string; digest: Buffer }>();
  private devices: ReadonlyMap<string, DeviceRule>;

  constructor(devices: ReadonlyMap<string, DeviceRule>) {
    this.devices = devices;
  }

  replaceDevices(devices: ReadonlyMap<string, DeviceRule>): void {
    this.devices = devices;
  }

  async check(id: string, password: Buffer | undefined): Promise<AuthOutcome> {
    const device = this.devices.get(id);
    if (!device) return { ok: false, reason: 'unknown_device' };
    if (device.disabled) return { ok: false, reason: 'disabled' };
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
