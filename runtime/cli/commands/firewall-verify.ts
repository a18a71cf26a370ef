// `ferry firewall verify`: is a running host still as planned? Changes nothing.
import { verifyHost } from '../../firewall/host.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from '../command.js';
import { FIREWALL_OPTIONS_HELP, prepareHostCommand, where } from '../../firewall/cli-options.js';

const HELP = `Usage: ferry firewall verify [--rules DIR] [--netns NAME]

Checks a running gateway against firewall.yaml without changing anything:
  - IP forwarding is off (net.ipv4.ip_forward and net.ipv6.conf.all.forwarding are 0)
  - table inet ferry is loaded
  - its chains, hooks, priorities, policies, counters and every rule are what
    \`ferry firewall plan\` generates now (so an edit by hand, or a policy changed but
    not applied, is reported)

Run it from monitoring, or after a reboot. Needs root, nft and unshare.

${FIREWALL_OPTIONS_HELP}

Exit status: 0 all checks pass, 1 a check fails (each on stderr) or the policy does not
load, 2 the command line is wrong.
`;

export const command: Command = {
  name: 'firewall verify',
  summary: 'check forwarding is off and the firewall table is loaded as planned',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const ready = prepareHostCommand('firewall verify', HELP, args);
    if (typeof ready === 'number') return ready;
    const { target, planned } = ready;
    const outcome = await verifyHost(target, planned.plan, planned.text);
    for (const note of outcome.notes) process.stdout.write(`ok: ${note}\n`);
    if (outcome.problems.length > 0) {
      process.stderr.write(outcome.problems.map((p) => `FAIL: ${p}\n`).join(''));
      return EXIT_FAILURE;
    }
    process.stdout.write(`firewall verified in ${where(target)}\n`);
    return EXIT_OK;
  },
};
