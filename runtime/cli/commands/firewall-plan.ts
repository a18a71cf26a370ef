// `ferry firewall plan`: the ruleset that `apply` would load, printed and nothing else.
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { parseFirewallArgs, planFrom } from '../../firewall/cli-options.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';

const HELP = `Usage: ferry firewall plan [--rules DIR]

Prints the nftables ruleset generated from firewall.yaml (docs/firewall.md), exactly
as \`ferry firewall apply\` would load it with \`nft -f\`. Touches nothing: no root
needed, nft need not be installed. Save it and review it, or diff it against the last
one before applying.

A bad policy (bad address or prefix, unknown key, port out of range) prints every
problem as FILE:LINE:COLUMN: MESSAGE on stderr and no ruleset.

Options:
  --rules DIR    rule files (default ${DEFAULT_PATHS.rules}): firewall.yaml, and gateway.yaml for the
                 ports that firewall.yaml leaves out
  -h, --help     show this text

Exit status: 0 printed, 1 the policy does not load, 2 the command line is wrong.
`;

export const command: Command = {
  name: 'firewall plan',
  summary: 'print the nftables ruleset generated from firewall.yaml',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const parsed = parseFirewallArgs(args, false);
    if ('help' in parsed) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    if ('usage' in parsed) {
      process.stderr.write(`firewall plan: ${parsed.usage}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    const planned = planFrom(parsed.rulesDir);
    if (!planned) return EXIT_FAILURE;
    process.stdout.write(planned.text);
    return EXIT_OK;
  },
};
