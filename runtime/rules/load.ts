// Loads the rule directory whole or not at all: every problem in every file is
// collected (with file:line:column) and thrown together as one RulesError, so an
// operator fixes them in one pass and a running gateway never takes half a rule set
// (invariant 5 of docs/design.md: bad rule files never replace good ones).
import { resolve } from 'node:path';
import { RulesError, type GatewayConfig, type RuleProblem, type Rules } from './types.js';
import { RULE_DEFAULTS, RULE_FILES, type RuleFileName } from './defaults.js';
import { readYaml } from './yaml-source.js';
import { buildGateway } from './gateway-config.js';
import { buildDevices, buildMessages, buildRoles } from './sections.js';
import { buildDepartments } from './departments.js';
import { buildTriage, checkTriageDepartments } from './triage.js';
import { checkFirewallFile } from '../firewall/policy.js';

// File contents that stand in for the files on disk, to check a change before writing it.
export type RuleOverrides = Partial<Record<RuleFileName, string>>;

export function loadRules(dir: string): Rules {
  return loadRulesWith(dir, {});
}

export function loadRulesWith(dir: string, overrides: RuleOverrides): Rules {
  const root = resolve(dir);
  const problems: RuleProblem[] = [];
  const read = (file: RuleFileName) => readYaml(root, file, problems, overrides[file]);
  const gatewaySrc = read(RULE_FILES.gateway);
  const rolesSrc = read(RULE_FILES.roles);
  const devicesSrc = read(RULE_FILES.devices);
  const messagesSrc = read(RULE_FILES.messages);
  const departmentsSrc = read(RULE_FILES.departments);
  const triageSrc = read(RULE_FILES.triage);

  const gateway = gatewaySrc ? buildGateway(gatewaySrc, root, problems) : null;
  const roles = rolesSrc ? buildRoles(rolesSrc, problems) : null;
  const devices = devicesSrc ? buildDevices(devicesSrc, roles, problems) : null;
  const maxPayloadBytes = gateway?.limits.maxPayloadBytes ?? RULE_DEFAULTS.limits.maxPayloadBytes;
  const messages = messagesSrc ? buildMessages(messagesSrc, roles, maxPayloadBytes, problems) : null;
  const departments = departmentsSrc ? buildDepartments(departmentsSrc, problems) : null;
  const triage = triageSrc ? buildTriage(triageSrc, problems) : null;
  if (triageSrc && triage && departments) checkTriageDepartments(triageSrc, triage, new Set(departments.departments.keys()), problems);
  // firewall.yaml, when present, is checked here so that `ferry rules check` names its
  // problems too; the gateway processes do not use it (`ferry firewall apply` does).
  if (gateway) checkFirewallFile(root, gateway, problems);

  if (problems.length > 0 || !gateway || !roles || !devices || !messages || !departments || !triage) {
    throw new RulesError(sortProblems(problems));
  }
  return Object.freeze({ dir: root, gateway, devices, roles, messages, departments, triage });
}

// Only gateway.yaml (and its secretFile): for the outer process, which must not read
// device credentials or anything else about the medical side.
export function loadGatewayConfig(dir: string): GatewayConfig {
  const root = resolve(dir);
  const problems: RuleProblem[] = [];
  const src = readYaml(root, RULE_FILES.gateway, problems);
  const gateway = src ? buildGateway(src, root, problems) : null;
  if (problems.length > 0 || !gateway) throw new RulesError(sortProblems(problems));
  return gateway;
}

const FILE_ORDER: string[] = Object.values(RULE_FILES);

function sortProblems(problems: RuleProblem[]): RuleProblem[] {
  return [...problems].sort(
    (a, b) => FILE_ORDER.indexOf(a.file) - FILE_ORDER.indexOf(b.file) || a.line - b.line || a.column - b.column,
  );
}
