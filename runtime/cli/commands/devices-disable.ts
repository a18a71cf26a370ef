import { disableDevice } from '../../rules/devices-file.js';
import { describeFailure } from '../../rules/report.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';

const HELP = `Usage: ferry devices disable ID [--rules DIR]

Sets \`disabled: true\` on device ID in DIR/devices.yaml (DIR defaults to ${DEFAULT_PATHS.rules}).
A disabled device is refused at CONNECT once the gateway reloads its rules. The entry
stays in the file so that its id is not reused and the audit log still names it; to
enable it again, delete the \`disabled: true\` line by hand and run ferry rules check.

Disabling a device that is already disabled changes nothing and succeeds.
Comments and layout of devices.yaml are kept; the file is replaced atomically, keeping
its owner, group and mode, and only if the whole rule set still passes
\`ferry rules check\`.

Options:
  --rules DIR   rule directory (default ${DEFAULT_PATHS.rules})
  -h, --help    show this text

Exit status: 0 disabled, 1 no such device or the rules do not load, 2 the command
line is wrong.
`;

export const command: Command = {
  name: 'devices disable',
  summary: 'refuse a device from now on (it stays listed in devices.yaml)',
  help: HELP,
  run,
};

const OPTIONS = {
  rules: { type: 'string', default: DEFAULT_PATHS.rules },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write(`devices disable: expected one device ID\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const id = positionals[0]!;
  try {
    await disableDevice(values.rules, id);
    process.stdout.write(`device ${id} disabled\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`devices disable: refused\n${describeFailure(values.rules, err)}`);
    return EXIT_FAILURE;
  }
}
