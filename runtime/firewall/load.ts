// The firewall commands' view of the rules: gateway.yaml (for the ports) and
// firewall.yaml, both required, whole or not at all. A RulesError carries every problem
// with its file:line:column, and nothing on the host is touched before this succeeds.
import { resolve } from 'node:path';
import { loadGatewayConfig } from '../rules/load.js';
import { readYaml } from '../rules/yaml-source.js';
import { RulesError, type RuleProblem } from '../rules/types.js';
import { FIREWALL_FILE, buildFirewall, gatewayPorts, type FirewallPolicy } from './policy.js';

export function loadFirewallPolicy(dir: string): FirewallPolicy {
  const root = resolve(dir);
  const gateway = loadGatewayConfig(root);
  const problems: RuleProblem[] = [];
  const src = readYaml(root, FIREWALL_FILE, problems);
  const policy = src ? buildFirewall(src, gatewayPorts(gateway), problems) : null;
  if (problems.length > 0 || !policy) throw new RulesError(problems.sort((a, b) => a.line - b.line || a.column - b.column));
  return policy;
}
