// A throw-away certificate authority for tests, demos and the simulators: a CA, the
// broker's server certificate, the payment server's certificate, the gateway's client
// certificate toward it, and one client certificate per device (CN = device id).
// Node 20 cannot sign X.509 certificates, so this drives the `openssl` command; every
// call passes its arguments as a list, never through a shell.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { certFingerprint } from './fingerprint.js';

// Long enough for a demo or a CI run, short enough that a leaked test CA dies soon.
export const TEST_CERT_DAYS_DEFAULT = 365;
export const TEST_CERT_DAYS_MAX = 825; // what browsers still accept for a leaf
export const TEST_CA_DEVICES_MAX = 1_000;
export const TEST_CA_NAMES_MAX = 32;
// One openssl run signs in milliseconds; a hung one is killed.
const OPENSSL_TIMEOUT_MS = 30_000;
const CA_SUBJECT = '/O=Ferry/CN=Ferry TEST CA - not for production';
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface TestCaOptions {
  out: string;
  devices: readonly string[]; // device ids (CN of each client certificate)
  serverNames: readonly string[]; // extra SANs besides localhost and 127.0.0.1
  days?: number;
}

export interface IssuedCert {
  cert: string; // file paths
  key: string;
  fingerprint: string;
}

export interface TestCa {
  dir: string;
  reusedCa: boolean; // an existing ca.crt + ca.key in `out` signed the new certificates
  ca: { cert: string; key: string };
  server: IssuedCert; // the broker's (MQTT over TLS)
  paymentServer: IssuedCert; // for `ferry sim payment-server --tls-cert`
  paymentClient: IssuedCert; // the gateway's client certificate toward the payment server
  devices: (IssuedCert & { id: string })[];
}

export class OpensslMissingError extends Error {}

export function checkOpenssl(): string {
  try {
    return execFileSync('openssl', ['version'], { encoding: 'utf8', timeout: OPENSSL_TIMEOUT_MS }).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OpensslMissingError('the openssl command is not installed (Debian: apt-get install openssl)');
    }
    throw err;
  }
}

export function isServerName(name: string): boolean {
  return isIP(name) !== 0 || HOSTNAME.test(name);
}

export function makeTestCa(o: TestCaOptions): TestCa {
  const days = o.days ?? TEST_CERT_DAYS_DEFAULT;
  if (!Number.isInteger(days) || days < 1 || days > TEST_CERT_DAYS_MAX) throw new Error(`days must be 1..${TEST_CERT_DAYS_MAX}`);
  if (o.devices.length > TEST_CA_DEVICES_MAX) throw new Error(`at most ${TEST_CA_DEVICES_MAX} devices at once`);
  if (o.serverNames.length > TEST_CA_NAMES_MAX) throw new Error(`at most ${TEST_CA_NAMES_MAX} server names`);
  for (const name of o.serverNames) if (!isServerName(name)) throw new Error(`not a host name or IP address: ${name}`);
  checkOpenssl();
  mkdirSync(join(o.out, 'devices'), { recursive: true });
  const work = mkdtempSync(join(o.out, '.work-'));
  try {
    const ca = { cert: join(o.out, 'ca.crt'), key: join(o.out, 'ca.key') };
    const reusedCa = existsSync(ca.cert) && existsSync(ca.key);
    if (!reusedCa) makeCa(work, ca, days);
    const sans = ['DNS:localhost', 'IP:127.0.0.1', ...o.serverNames.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`))];
    const issue = (base: string, cn: string, usage: Usage, san: string[]) => issueCert(work, ca, { base, cn, usage, sans: san, days });
    return {
      dir: o.out,
      reusedCa,
      ca,
      server: issue(join(o.out, 'server'), 'ferry-broker', 'serverAuth', sans),
      paymentServer: issue(join(o.out, 'payment-server'), 'ferry-test-payment-server', 'serverAuth', sans),
      paymentClient: issue(join(o.out, 'payment-client'), 'ferry-gateway', 'clientAuth', []),
      devices: o.devices.map((id) => ({ id, ...issue(join(o.out, 'devices', id), id, 'clientAuth', []) })),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Usage = 'serverAuth' | 'clientAuth';

// Our own minimal config: the system's openssl.cnf adds extensions of its own choosing.
const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

function leafExtensions(usage: Usage, sans: string[]): string {
  return `[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${sans.length > 0 ? `subjectAltName = ${sans.join(',')}\n` : ''}`;
}

function makeCa(work: string, ca: { cert: string; key: string }, days: number): void {
  const config = join(work, 'req.cnf');
  writeFileSync(config, REQ_CONFIG);
  newKey(ca.key);
  openssl(['req', '-x509', '-new', '-config', config, '-extensions', 'ca', '-key', ca.key,
    '-subj', CA_SUBJECT, '-days', String(days), '-sha256', '-out', ca.cert]);
}

function issueCert(work: string, ca: { cert: string; key: string }, o: { base: string; cn: string; usage: Usage; sans: string[]; days: number }): IssuedCert {
  const config = join(work, 'req.cnf');
  const ext = join(work, 'leaf.cnf');
  const csr = join(work, 'leaf.csr');
  writeFileSync(config, REQ_CONFIG);
  writeFileSync(ext, leafExtensions(o.usage, o.sans));
  const key = `${o.base}.key`;
  const cert = `${o.base}.crt`;
  newKey(key);
  openssl(['req', '-new', '-config', config, '-key', key, '-subj', `/O=Ferry test/CN=${o.cn}`, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', String(o.days), '-sha256', '-extfile', ext, '-extensions', 'leaf', '-out', cert]);
  return { cert, key, fingerprint: certFingerprint(readFileSync(cert)) };
}

function newKey(file: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  chmodSync(file, 0o600);
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: OPENSSL_TIMEOUT_MS });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}
