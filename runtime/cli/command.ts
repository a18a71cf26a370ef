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
