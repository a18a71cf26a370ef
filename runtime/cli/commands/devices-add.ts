import { addDevice } from '../../rules/devices-file.js';
import { describeFailure } from '../../rules/report.js';
import { ROLES } from '../../rules/types.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { CONNECTION_OPTIONS } from '../management-client.js';
import { APPLY_HELP, DEVICE_CONNECTION_HELP, applyToRunningGateway, connectionUsageProblem, describeApplied } from '../running-gateway.js';

const HELP = `Usage: ferry devices add ID --role ROLE [--dept DEPT] [--cert-fingerprint FP] [options]

Registers a new device in DIR/devices.yaml (DIR defaults to ./rules) with a freshly
generated password, and prints that password on stdout, alone on one line, so that it
can be piped straight into the device's configuration:

  ferry devices add kiosk-03 --role kiosk > kiosk-03.password

Only the password's scrypt hash is written to devices.yaml; the password itself is not
stored anywhere, so keep it now (lost: \`ferry devices rotate ID\` makes a new one).
Comments and layout of devices.yaml are kept. The file is replaced atomically, keeping
its owner, group and mode, and only if the whole rule set still passes
\`ferry rules check\` with the new device.

${APPLY_HELP}

With --cert-fingerprint the device logs in with its TLS client certificate on the MQTT
TLS port instead: no password is made, nothing is printed on stdout, and the
fingerprint (SHA-256, as \`ferry tls make-test-ca\` and
\`openssl x509 -noout -fingerprint -sha256\` print it) is written to devices.yaml.

Refused: an ID that exists already (also a disabled one), an ID other than letters,
digits, _ and - (at most 64), a ROLE not defined in roles.yaml, a workstation
without --dept.

Options:
  --role ROLE   one of: ${ROLES.join(', ')}
  --dept DEPT   department code (required for a workstation), e.g. INT
  --cert-fingerprint FP  a certificate device (no password), e.g. AB:CD:...:EF
${DEVICE_CONNECTION_HELP}
  -h, --help    show this text

Exit status: 0 added (and applied, or the gateway is not running), 1 refused (the
reason on stderr) or the running gateway did not apply it (the password printed is
then in the file: keep it), 2 the command line is wrong.
`;

export const command: Command = {
  name: 'devices add',
  summary: 'register a device and print its new password',
  help: HELP,
  run,
};

const OPTIONS = {
  role: { type: 'string' },
  dept: { type: 'string' },
  'cert-fingerprint': { type: 'string' },
  ...CONNECTION_OPTIONS,
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0 || values.role === undefined) {
    process.stderr.write(`devices add: expected one device ID and --role\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const wrong = connectionUsageProblem(values);
  if (wrong) {
    process.stderr.write(`devices add: ${wrong}\n`);
    return EXIT_USAGE;
  }
  try {
    const certFingerprint = values['cert-fingerprint'];
    const secret = await addDevice(values.rules, {
      id, role: values.role, ...(values.dept !== undefined ? { dept: values.dept } : {}), ...(certFingerprint !== undefined ? { certFingerprint } : {}),
    });
    if (certFingerprint !== undefined) {
      process.stderr.write(`device ${id} added; it logs in with the certificate ${certFingerprint.toUpperCase()}\n`);
    } else {
      // stdout carries the password and nothing else; the notes go to stderr.
      process.stdout.write(`${secret}\n`);
      process.stderr.write(`device ${id} added; its password (above) is shown only this once\n`);
    }
  } catch (err) {
    process.stderr.write(`devices add: refused\n${describeFailure(values.rules, err)}`);
    return EXIT_FAILURE;
  }
  const applied = await applyToRunningGateway(values);
  process.stderr.write(`${describeApplied(applied)}\n`);
  return !applied.applied && applied.running ? EXIT_FAILURE : EXIT_OK;
}
