// `ferry tls make-test-ca`: certificates for tests, demos and the simulators.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICE_ID } from '../../rules/file-schemas.js';
import { makeTestCa, OpensslMissingError, TEST_CERT_DAYS_DEFAULT, TEST_CERT_DAYS_MAX } from '../../tls/test-ca.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';

const HELP = `Usage: ferry tls make-test-ca --out DIR [--device ID ...] [--server-name NAME ...] [--days N]

FOR TESTS AND DEMOS ONLY. Makes a throw-away certificate authority and certificates
signed by it. A real installation uses certificates from the hospital's own CA; the
key of this CA lies unprotected in DIR, so anyone who reads it can make devices.

Writes to DIR:
  ca.crt, ca.key                        the test CA (reused when both already exist,
                                        so that more devices can be added later)
  server.crt, server.key                the broker's certificate for MQTT over TLS
                                        (SANs: localhost, 127.0.0.1 and each --server-name)
  payment-server.crt, payment-server.key
                                        for ferry sim payment-server --tls-cert/--tls-key
  payment-client.crt, payment-client.key
                                        the gateway's client certificate toward the
                                        payment server (gateway.yaml payment.tls)
  devices/ID.crt, devices/ID.key        one client certificate per --device (CN = ID)

Prints each device's certificate fingerprint on stdout, one "ID: FINGERPRINT" line per
device, ready for the certFingerprint key of devices.yaml. Every named certificate is
issued anew on each run; keys are written with mode 0600.

Use them (paths in gateway.yaml are relative to the rules directory), e.g. with
DIR = rules/tls:
  mqtt:
    tls: { port: 8883, cert: tls/server.crt, key: tls/server.key, ca: tls/ca.crt,
           requireClientCert: true }
  payment:
    tls: { ca: tls/ca.crt, cert: tls/payment-client.crt, key: tls/payment-client.key }

Options:
  --out DIR            where to write (created if missing)
  --device ID          a device id; repeat for several
  --server-name NAME   a host name or IP address the broker and the payment server
                       are reached by; repeat for several
  --days N             validity (default ${TEST_CERT_DAYS_DEFAULT}, at most ${TEST_CERT_DAYS_MAX})
  -h, --help           show this text

Needs the openssl command (Debian: apt-get install openssl).
Exit status: 0 written, 1 openssl missing or failed, 2 the command line is wrong.
`;

export const command: Command = {
  name: 'tls make-test-ca',
  summary: 'make a test CA and certificates (tests and demos only)',
  help: HELP,
  run,
};

const OPTIONS = {
  out: { type: 'string' },
  device: { type: 'string', multiple: true },
  'server-name': { type: 'string', multiple: true },
  days: { type: 'string', default: String(TEST_CERT_DAYS_DEFAULT) },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  if (values.out === undefined) return usage('--out DIR is required');
  const devices = values.device ?? [];
  const bad = devices.find((id) => !new RegExp(DEVICE_ID).test(id));
  if (bad !== undefined) return usage(`device id "${bad}" must match ${DEVICE_ID}`);
  if (new Set(devices).size !== devices.length) return usage('a --device is given twice');
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > TEST_CERT_DAYS_MAX) return usage(`--days must be 1..${TEST_CERT_DAYS_MAX}`);
  try {
    const ca = makeTestCa({ out: path.resolve(values.out), devices, serverNames: values['server-name'] ?? [], days });
    process.stderr.write(`${ca.reusedCa ? 'used the existing test CA' : 'made a new test CA'} in ${ca.dir}; `
      + `wrote the broker, payment-server and payment-client certificates and ${ca.devices.length} device certificate(s). `
      + 'For tests and demos only.\n');
    process.stdout.write(`# certFingerprint of each device certificate (devices.yaml)\n`);
    for (const d of ca.devices) process.stdout.write(`${d.id}: ${d.fingerprint}\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof OpensslMissingError) process.stderr.write(`tls make-test-ca: ${err.message}\n`);
    else process.stderr.write(`tls make-test-ca: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

function usage(message: string): number {
  process.stderr.write(`tls make-test-ca: ${message}\n\n${HELP}`);
  return EXIT_USAGE;
}
