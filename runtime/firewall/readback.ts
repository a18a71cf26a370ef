// Reading `nft -j list table inet ferry` back and naming every way it differs from the
// plan. Two levels: the structure (chains, hooks, priorities, policies, counters),
// which the plan itself states, and the rules, compared with what nft made of the plan
// in a scratch namespace. Handles and counter values change on every load and are
// left out of the comparison.
import { BASE_CHAIN, type Plan } from './ruleset.js';

export interface ChainView {
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
}

export interface TableView {
  chains: ChainView[];
  counters: string[];
  rules: Map<string, string[]>; // chain → each rule's expressions as canonical JSON
}

type NftObject = Record<string, Record<string, unknown>>;

export function viewOf(listing: unknown, table: string): TableView {
  const items = ((listing as { nftables?: NftObject[] }).nftables ?? []).filter((o) => ownedBy(o, table));
  const chains: ChainView[] = [];
  const counters: string[] = [];
  const rules = new Map<string, string[]>();
  for (const item of items) {
    if (item.chain) {
      const c = item.chain as { name: string; type?: string; hook?: string; prio?: number; policy?: string };
      chains.push({ name: c.name, ...pick(c, ['type', 'hook', 'prio', 'policy']) });
      rules.set(c.name, rules.get(c.name) ?? []);
    } else if (item.counter) {
      counters.push(String(item.counter.name));
    } else if (item.rule) {
      const r = item.rule as { chain: string; expr: unknown };
      const list = rules.get(r.chain) ?? [];
      list.push(JSON.stringify(stripVolatile(r.expr)));
      rules.set(r.chain, list);
    }
  }
  return { chains, counters, rules };
}

function ownedBy(item: NftObject, table: string): boolean {
  const body = Object.values(item)[0];
  return body !== undefined && (body.table === table);
}

function pick<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function stripVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripVolatile);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'handle' || k === 'packets' || k === 'bytes') continue;
    out[k] = stripVolatile(v);
  }
  return out;
}

export function plannedChains(plan: Plan): ChainView[] {
  return plan.chains.map((c) => (c.hook ? { name: c.name, type: BASE_CHAIN.type, hook: c.hook, prio: BASE_CHAIN.prio, policy: c.policy! } : { name: c.name }));
}

// Chains, hooks, priorities and policies, and the named counters.
export function structureDifferences(plan: Plan, actual: TableView): string[] {
  const out: string[] = [];
  const found = new Map(actual.chains.map((c) => [c.name, c]));
  for (const want of plannedChains(plan)) {
    const got = found.get(want.name);
    if (!got) {
      out.push(`chain ${want.name}: missing`);
      continue;
    }
    for (const key of ['type', 'hook', 'prio', 'policy'] as const) {
      if (got[key] !== want[key]) out.push(`chain ${want.name}: ${key} is ${show(got[key])}, planned ${show(want[key])}`);
    }
    found.delete(want.name);
  }
  for (const extra of found.keys()) out.push(`chain ${extra}: not in the plan`);
  const counters = new Set(actual.counters);
  for (const c of plan.counters) if (!counters.delete(c)) out.push(`counter ${c}: missing`);
  for (const c of counters) out.push(`counter ${c}: not in the plan`);
  return out;
}

// Rule by rule, in order, chain by chain.
export function ruleDifferences(planned: TableView, actual: TableView): string[] {
  const out: string[] = [];
  for (const [chain, want] of planned.rules) {
    const got = actual.rules.get(chain);
    if (!got) continue; // reported by structureDifferences
    const n = Math.max(want.length, got.length);
    for (let i = 0; i < n; i++) {
      if (want[i] === got[i]) continue;
      if (got[i] === undefined) out.push(`chain ${chain}, rule ${i + 1}: missing (planned ${want[i]})`);
      else if (want[i] === undefined) out.push(`chain ${chain}, rule ${i + 1}: not in the plan (${got[i]})`);
      else out.push(`chain ${chain}, rule ${i + 1}: is ${got[i]}, planned ${want[i]}`);
    }
  }
  return out;
}

function show(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}
