import { parseArgs, type ParseArgsConfig } from 'node:util';

// Every `ferry` subcommand is one module under runtime/cli/commands/ exporting a
// Command; runtime/cli/main.ts lists them. `run` returns the process exit status and
// writes results to stdout, diagnostics to stderr.
export interface Command {
  name: string; // e.g. 'rules check', 'sim kiosk'
  summary: string; // one line for `ferry --help`
  help: string; // full text for `ferry <name> --help`
  run(args: string[]): Promise<number>;
}

// Exit statuses shared by all commands.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1; // the thing checked is wrong (bad rules, broken audit chain)
export const EXIT_USAGE = 2; // the command line is wrong

// Parses a command line with node:util parseArgs for a command whose options include
// `help`. A number is the exit status when there is nothing more to do: the help was
// asked for (printed on stdout), or the command line is wrong (the reason and the help
// on stderr).
export function parseCommandLine<O extends ParseArgsConfig['options'] & { help: { type: 'boolean' } }>(
  args: string[], options: O, help: string,
): { values: ParsedValues<O>; positionals: string[] } | number {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${help}`);
    return EXIT_USAGE;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help);
    return EXIT_OK;
  }
  return { values: parsed.values as ParsedValues<O>, positionals: parsed.positionals };
}

type ParsedValues<O extends ParseArgsConfig['options']> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>['values'];
