// The `ferry` command: finds the subcommand (one or two words) and runs it.
import type { Command } from './command.js';
import { EXIT_OK, EXIT_USAGE } from './command.js';
import { versionLine } from '../common/build-info.js';

// Loaded on demand: `ferry rules check` should not pay for the broker's imports.
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  start: () => import('./commands/start.js'),
  'rules check': () => import('./commands/rules-check.js'),
  'audit verify': () => import('./commands/audit-verify.js'),
  backup: () => import('./commands/backup.js'),
  restore: () => import('./commands/restore.js'),
  query: () => import('./commands/query.js'),
  reconcile: () => import('./commands/reconcile.js'),
  'refunds retry': () => import('./commands/refunds-retry.js'),
  'devices add': () => import('./commands/devices-add.js'),
  'devices list': () => import('./commands/devices-list.js'),
  'devices disable': () => import('./commands/devices-disable.js'),
  'devices enable': () => import('./commands/devices-enable.js'),
  'devices rotate': () => import('./commands/devices-rotate.js'),
  'devices remove': () => import('./commands/devices-remove.js'),
  'sim payment-server': () => import('./commands/sim-payment-server.js'),
  'sim kiosk': () => import('./commands/sim-kiosk.js'),
  'sim billing-desk': () => import('./commands/sim-billing-desk.js'),
  'sim registration': () => import('./commands/sim-registration.js'),
  'sim receiver': () => import('./commands/sim-receiver.js'),
  'sim hospital': () => import('./commands/sim-hospital.js'),
  'sim workstation': () => import('./commands/sim-workstation.js'),
  'sim load': () => import('./commands/sim-load.js'),
  'firewall plan': () => import('./commands/firewall-plan.js'),
  'firewall apply': () => import('./commands/firewall-apply.js'),
  'firewall verify': () => import('./commands/firewall-verify.js'),
  'netns setup': () => import('./commands/netns-setup.js'),
  'netns teardown': () => import('./commands/netns-setup.js').then((m) => ({ command: m.teardown })),
  'tls make-test-ca': () => import('./commands/tls-make-test-ca.js'),
};

export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${versionLine()}\n`);
    return EXIT_OK;
  }
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
  return `Usage: ferry <command> [options]   (ferry <command> --help for each)\n       ferry --version   (-V)\n\nCommands:\n${lines.join('\n')}\n`;
}
