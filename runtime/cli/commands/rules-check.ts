import { parseArgs } from 'node:util';
import { loadRules } from '../../rules/load.js';
import { describeFailure } from '../../rules/report.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';

const HELP = `Usage: ferry rules check [DIR]

Loads the rule files in DIR (default ${DEFAULT_PATHS.rules}): gateway.yaml, devices.yaml, roles.yaml
and messages.yaml. Each file is checked against its schema (a misspelt or unknown key
is an error), then for meaning: device ids unique and well formed, every device's role
defined, workstations with a department, a password hash or certificate fingerprint per
device, message body schemas that compile and reject unknown fields, a payment secret
of at least 32 characters, and so on (docs/rules.md).

Run it after every edit: a running gateway refuses to reload rules that do not pass.

Prints "rules OK: N devices, M message types" on success; otherwise every problem, in
every file, as FILE:LINE:COLUMN: MESSAGE on stderr (line 0: the file as a whole).

Options:
  -h, --help   show this text

Exit status: 0 the rules load, 1 they do not, 2 the command line is wrong.
`;

export const command: Command = {
  name: 'rules check',
  summary: 'check the rule files and name every problem with file:line:column',
  help: HELP,
  run,
};

async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { help: { type: 'boolean', short: 'h', default: false } }, strict: true, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  if (parsed.positionals.length > 1) {
    process.stderr.write(`rules check: expected at most one directory\n\n${HELP}`);
    return EXIT_USAGE;
  }
  const dir = parsed.positionals[0] ?? DEFAULT_PATHS.rules;
  try {
    const rules = loadRules(dir);
    process.stdout.write(`rules OK: ${rules.devices.size} devices, ${rules.messages.size} message types, ${rules.departments.departments.size} departments\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(describeFailure(dir, err));
    return EXIT_FAILURE;
  }
}
