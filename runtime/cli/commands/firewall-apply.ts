// `ferry firewall apply`: load the planned table in one transaction, then read it back.
import { applyPlan } from '../../firewall/host.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { FIREWALL_OPTIONS_HELP, prepareHostCommand, where } from '../../firewall/cli-options.js';

const HELP = `Usage: ferry firewall apply [--rules DIR] [--netns NAME]

Generates the ruleset from firewall.yaml (as \`ferry firewall plan\` prints it) and loads
it with one \`nft -f\` transaction that replaces only \`table inet ferry\`: other tables
survive, and if nft refuses anything the old table stays as it was. Then reads the table
back (\`nft -j list table inet ferry\`) and checks its chains, hooks, priorities,
policies, counters and rules against the plan.

A bad policy is refused with FILE:LINE:COLUMN problems before nft runs: nothing changes.
Needs root (CAP_NET_ADMIN), nft, and unshare (util-linux) for the rule comparison.

${FIREWALL_OPTIONS_HELP}

Exit status: 0 loaded and as planned, 1 refused or different (each difference on
stderr), 2 the command line is wrong.
`;

export const command: Command = {
  name: 'firewall apply',
  summary: 'load the firewall ruleset atomically and check it was loaded as planned',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const ready = prepareHostCommand('firewall apply', HELP, args);
    if (typeof ready === 'number') return ready;
    const { target, planned } = ready;
    const outcome = await applyPlan(target, planned.plan, planned.text);
    for (const note of outcome.notes) process.stdout.write(`${note}\n`);
    if (outcome.problems.length > 0) {
      process.stderr.write(`firewall apply (${where(target)}):\n${outcome.problems.map((p) => `  ${p}\n`).join('')}`);
      return EXIT_FAILURE;
    }
    process.stdout.write(`firewall applied in ${where(target)}\n`);
    return EXIT_OK;
  },
};
