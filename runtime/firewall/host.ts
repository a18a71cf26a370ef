// `apply` and `verify` as steps over a target (the host, or a named network namespace).
// Each returns the problems it found; an empty list means the host is as planned.
import { TABLE_FAMILY, TABLE_NAME, type Plan } from './ruleset.js';
import { canonicalListing, firstLines, listTable, loadRuleset, readForwarding, type Target } from './nft.js';
import { ruleDifferences, structureDifferences, viewOf } from './readback.js';

export interface Outcome {
  problems: string[];
  notes: string[]; // what was checked and found right, for the operator's log
}

// Loads the ruleset in one `nft -f` transaction, then reads the table back.
export async function applyPlan(target: Target, plan: Plan, text: string): Promise<Outcome> {
  const loaded = await loadRuleset(target, text);
  if (loaded.code !== 0) return { problems: [`nft -f refused the ruleset; nothing was changed:\n${firstLines(loaded.stderr, 20)}`], notes: [] };
  const outcome = await compareTable(target, plan, text);
  outcome.notes.unshift(`loaded table ${TABLE_FAMILY} ${TABLE_NAME} (plan ${plan.id})`);
  return outcome;
}

// A running host: forwarding off, our table present and as planned.
export async function verifyHost(target: Target, plan: Plan, text: string): Promise<Outcome> {
  const outcome: Outcome = { problems: [], notes: [] };
  const forwarding = await readForwarding(target);
  if ('error' in forwarding) {
    outcome.problems.push(`cannot read IP forwarding: ${forwarding.error}`);
  } else {
    checkSwitch(outcome, 'net.ipv4.ip_forward', forwarding.ipv4);
    checkSwitch(outcome, 'net.ipv6.conf.all.forwarding', forwarding.ipv6);
  }
  const table = await compareTable(target, plan, text);
  return { problems: [...outcome.problems, ...table.problems], notes: [...outcome.notes, ...table.notes] };
}

function checkSwitch(outcome: Outcome, name: string, value: string): void {
  if (value === '0') outcome.notes.push(`${name} = 0 (forwarding off)`);
  else outcome.problems.push(`${name} = ${value}: forwarding is on; the gateway must never route between its NICs`);
}

async function compareTable(target: Target, plan: Plan, text: string): Promise<Outcome> {
  const listing = await listTable(target, TABLE_FAMILY, TABLE_NAME);
  if ('missing' in listing) return { problems: [`table ${TABLE_FAMILY} ${TABLE_NAME} is not loaded`], notes: [] };
  if ('error' in listing) return { problems: [`cannot list table ${TABLE_FAMILY} ${TABLE_NAME}: ${listing.error}`], notes: [] };
  const actual = viewOf(listing.json, TABLE_NAME);
  const structure = structureDifferences(plan, actual);
  const planned = await canonicalListing(text, TABLE_FAMILY, TABLE_NAME);
  if ('error' in planned) return { problems: [...structure, planned.error], notes: [] };
  const rules = ruleDifferences(viewOf(planned.json, TABLE_NAME), actual);
  const problems = [...structure, ...rules];
  const ruleCount = [...actual.rules.values()].reduce((n, r) => n + r.length, 0);
  const notes = problems.length === 0
    ? [`table ${TABLE_FAMILY} ${TABLE_NAME}: ${actual.chains.length} chains, ${ruleCount} rules, ${actual.counters.length} counters, as planned`]
    : [];
  return { problems, notes };
}
