// Where the rule files and the data live when a command is not told (--rules, --data,
// `ferry rules check DIR`). Every command takes its defaults from here.
//   FERRY_RULES, FERRY_DATA    the environment, first
//   install/paths.json         written by install.sh into the installed tree
//                              (/opt/ferry): /etc/ferry and /var/lib/ferry
//   ./rules, ./data            a source checkout, which has no such file
// Not guessed from the working directory: an operator in /etc/ferry or in a checkout
// gets the same answer from the same ferry.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface DefaultPaths {
  rules: string;
  data: string;
}

export const CHECKOUT_PATHS: Readonly<DefaultPaths> = Object.freeze({ rules: './rules', data: './data' });
export const INSTALLED_PATHS_FILE = fileURLToPath(new URL('../../../install/paths.json', import.meta.url));

export function defaultPaths(env: NodeJS.ProcessEnv = process.env, file = INSTALLED_PATHS_FILE): Readonly<DefaultPaths> {
  const installed = readInstalled(file);
  return Object.freeze({
    rules: env.FERRY_RULES || installed.rules || CHECKOUT_PATHS.rules,
    data: env.FERRY_DATA || installed.data || CHECKOUT_PATHS.data,
  });
}

// A damaged file is ignored, not fatal: the units pass --rules and --data anyway, and a
// command run by hand still names the directory it tried.
function readInstalled(file: string): Partial<DefaultPaths> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
  const out: Partial<DefaultPaths> = {};
  for (const key of ['rules', 'data'] as const) {
    const value = (raw as Record<string, unknown> | null)?.[key];
    if (typeof value === 'string' && value.startsWith('/')) out[key] = value;
  }
  return out;
}

// Read once per process.
export const DEFAULT_PATHS = defaultPaths();
