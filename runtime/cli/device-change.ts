// The shape of `ferry devices disable|enable|rotate|remove ID`: one device id, a change
// to devices.yaml, then the running gateway told to apply it. stdout carries the result
// (for rotate: the new secret alone), stderr the notes.
import { describeFailure } from '../rules/report.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, parseCommandLine } from './command.js';
import { CONNECTION_OPTIONS } from './management-client.js';
import { applyToRunningGateway, connectionUsageProblem, describeApplied } from './running-gateway.js';

export const DEVICE_CHANGE_OPTIONS = { ...CONNECTION_OPTIONS, help: { type: 'boolean', short: 'h', default: false } } as const;

export async function runDeviceChange(
  name: string, args: string[], help: string, change: (rulesDir: string, id: string) => Promise<{ stdout: string }>,
): Promise<number> {
  const parsed = parseCommandLine(args, DEVICE_CHANGE_OPTIONS, help);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write(`devices ${name}: expected one device ID\n\n${help}`);
    return EXIT_USAGE;
  }
  const wrong = connectionUsageProblem(values);
  if (wrong) {
    process.stderr.write(`devices ${name}: ${wrong}\n`);
    return EXIT_USAGE;
  }
  let stdout: string;
  try {
    ({ stdout } = await change(values.rules, positionals[0]!));
  } catch (err) {
    process.stderr.write(`devices ${name}: refused\n${describeFailure(values.rules, err)}`);
    return EXIT_FAILURE;
  }
  process.stdout.write(stdout);
  const applied = await applyToRunningGateway(values);
  process.stderr.write(`${describeApplied(applied)}\n`);
  return !applied.applied && applied.running ? EXIT_FAILURE : EXIT_OK;
}
