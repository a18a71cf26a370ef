// Certificate fingerprints in the one form devices.yaml uses: the SHA-256 of the DER
// certificate as upper-case hex pairs joined by colons, exactly what
// `openssl x509 -noout -fingerprint -sha256` prints after "sha256 Fingerprint=".
import { X509Certificate } from 'node:crypto';

export function certFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256.toUpperCase();
}

// The rules loader upper-cases what operators write; this accepts either case too.
export function sameFingerprint(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}
