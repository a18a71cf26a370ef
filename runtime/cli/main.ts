// The `ferry` command: finds the subcommand (one or two words) and runs it.
import type { Command } from './command.js';
import { EXIT_OK, EXIT_USAGE } from './command.js';

// Loaded on demand: `ferry rules check` should not pay for the broker's imports.
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  start: () => import('./commands/start.js'),
  'rules check': () => import('./commands/rules-check.js'),
  'audit verify': () => import('./commands/audit-verify.js'),
  'devices add': () => import('./commands/devices-add.js'),
  'devices disable': () => import('./commands/devices-disable.js'),
  'sim payment-server': () => import('./commands/sim-payment-server.js'),
  'sim kiosk': () => import('./commands/sim-kiosk.js'),
  'sim billing-desk': () => import('./commands/sim-billing-desk.js'),
};

export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(await usage());
    return first ? EXIT_OK : EXIT_USAGE;
  }
  const two = `${first} ${second ?? ''}`;
  const name = COMMANDS[two] ? two : COMMANDS[first] ? first : undefined;
  if (!name) {
    const group = Object.keys(COMMANDS).filter((n) => n.startsWith(`${first} `));
    process.stderr.write(group.length
      ? `ferry ${first}: expected one of: ${group.map((n) => n.split(' ')[1]).join(', ')}\n`
      : `ferry: unknown command ${JSON.stringify(first)}; see ferry --help\n`);
    return EXIT_USAGE;
  }
  const { command } = await COMMANDS[name]!();
  const rest = argv.slice(name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return EXIT_OK;
  }
  return command.run(rest);
}

async function usage(): Promise<string> {
  const lines = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => {
    const { command } = await load();
    return `  ferry ${name.padEnd(20)} ${command.summary}`;
  }));
  return `Usage: ferry <command> [options]   (ferry <command> --help for each)\n\nCommands:\n${lines.join('\n')}\n`;
}
