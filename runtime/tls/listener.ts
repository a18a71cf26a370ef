// The broker's TLS listener settings (gateway.yaml `mqtt.tls`) and the one fact
// authentication takes from a TLS connection: the fingerprint of a client certificate
// that the handshake verified against the configured CA.
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { TlsListen } from '../rules/types.js';
import { readPemFiles } from './files.js';
import { certFingerprint } from './fingerprint.js';

// Devices are new hardware; nothing older than TLS 1.2 needs to be spoken.
export const TLS_VERSION_MIN = 'TLSv1.2';

// Files are read on every call, so that a reload picks up renewed certificates.
export function listenerContext(rulesDir: string, t: TlsListen): tls.SecureContextOptions {
  const pem = readPemFiles(rulesDir, t);
  return { cert: pem.cert, key: pem.key, ...(pem.ca ? { ca: pem.ca } : {}), minVersion: TLS_VERSION_MIN };
}

export function listenerOptions(rulesDir: string, t: TlsListen): tls.TlsOptions {
  return {
    ...listenerContext(rulesDir, t),
    // With a CA but no requirement, a certificate is asked for and checked, and a device
    // without one may still log in with its password.
    requestCert: t.requireClientCert || t.ca !== undefined,
    // requireClientCert: a certificate that is absent or from another CA ends the
    // connection in the handshake, before a single MQTT byte is read.
    rejectUnauthorized: t.requireClientCert,
  };
}

// The fingerprint of the verified client certificate, or undefined for plain TCP, no
// certificate, or one the handshake could not verify (possible when not required).
export function verifiedPeerFingerprint(conn: Duplex | undefined): string | undefined {
  if (!(conn instanceof tls.TLSSocket) || !conn.authorized) return undefined;
  const peer = conn.getPeerCertificate();
  if (!peer || !peer.raw) return undefined;
  return certFingerprint(peer.raw);
}
