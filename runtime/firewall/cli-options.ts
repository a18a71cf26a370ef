// What the three `ferry firewall` commands share: their options, and turning the rule
// directory into a plan (or the problems that stop it, before anything is touched).
import { parseArgs } from 'node:util';
import { loadFirewallPolicy } from './load.js';
import { FIREWALL_FILE } from './policy.js';
import { planRuleset, renderRuleset, type Plan } from './ruleset.js';
import { describeFailure } from '../rules/report.js';
import type { Target } from './nft.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../cli/command.js';
import { DEFAULT_PATHS } from '../common/default-paths.js';

export const FIREWALL_OPTIONS_HELP = `Options:
  --rules DIR    rule files (default ${DEFAULT_PATHS.rules}): firewall.yaml, and gateway.yaml for the
                 ports that firewall.yaml leaves out
  --netns NAME   run nft inside network namespace NAME (ip netns exec NAME nft ...)
  -h, --help     show this text`;

// Namespace names end up in /run/netns/NAME and on a command line.
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type Parsed = { rulesDir: string; target: Target } | { usage: string } | { help: true };

export function parseFirewallArgs(args: string[], allowNetns: boolean): Parsed {
  let values;
  try {
    ({ values } = parseArgs({
      args, strict: true, allowPositionals: false,
      options: { rules: { type: 'string', default: DEFAULT_PATHS.rules }, netns: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    }));
  } catch (err) {
    return { usage: (err as Error).message };
  }
  if (values.help) return { help: true };
  if (values.netns !== undefined && !allowNetns) return { usage: '--netns: plan does not touch the host; it has no namespace' };
  if (values.netns !== undefined && !NETNS_NAME.test(values.netns)) return { usage: '--netns: not a namespace name' };
  return { rulesDir: values.rules!, target: values.netns !== undefined ? { netns: values.netns } : {} };
}

export interface Planned {
  plan: Plan;
  text: string;
}

// null after printing the problems (file:line:column) on stderr.
export function planFrom(rulesDir: string): Planned | null {
  try {
    const plan = planRuleset(loadFirewallPolicy(rulesDir));
    return { plan, text: renderRuleset(plan, FIREWALL_FILE) };
  } catch (err) {
    process.stderr.write(describeFailure(rulesDir, err));
    return null;
  }
}

// How `firewall apply` and `firewall verify` start: the command line, then the plan.
// A number is the exit status when there is nothing more to do (the help was asked for,
// the command line is wrong, or the policy is bad: its problems are on stderr already).
export function prepareHostCommand(name: string, help: string, args: string[]): { target: Target; planned: Planned } | number {
  const parsed = parseFirewallArgs(args, true);
  if ('help' in parsed) {
    process.stdout.write(help);
    return EXIT_OK;
  }
  if ('usage' in parsed) {
    process.stderr.write(`${name}: ${parsed.usage}\n\n${help}`);
    return EXIT_USAGE;
  }
  const planned = planFrom(parsed.rulesDir);
  return planned ? { target: parsed.target, planned } : EXIT_FAILURE;
}

export function where(target: Target): string {
  return target.netns ? `network namespace ${target.netns}` : 'this host';
}
