// The device routes of the management API:
//   GET  /v1/devices        read token   every device of the running rules, with its roster
//   POST /v1/rules/reload   admin token  re-read the rule files now, as SIGHUP does
// `ferry devices …` call the reload after writing devices.yaml, so that a change applies
// without a restart; `ferry devices list` and the console read the list.
import type { DeviceRule } from '../../rules/types.js';
import type { DeviceSeen } from '../broker/roster.js';
import type { Access } from './auth.js';

export interface DeviceEntry extends DeviceSeen {
  id: string;
  role: string;
  dept: string | null;
  enabled: boolean;
  login: 'password' | 'certificate' | 'none';
}

export interface DeviceListing {
  devices: DeviceEntry[];
}

export type ReloadOutcome = { ok: true; dropped: number } | { ok: false; problems: string };

// What the inner side gives the routes.
export interface DeviceRoutesSource {
  devices(): ReadonlyMap<string, DeviceRule>;
  seen(id: string): DeviceSeen;
  reloadRules(): Promise<ReloadOutcome>;
}

export function deviceListing(source: Pick<DeviceRoutesSource, 'devices' | 'seen'>): DeviceListing {
  const devices = [...source.devices().values()].sort((a, b) => a.id.localeCompare(b.id)).map((d): DeviceEntry => ({
    id: d.id, role: d.role, dept: d.dept ?? null, enabled: !d.disabled,
    login: d.certFingerprint !== undefined ? 'certificate' : d.password !== undefined ? 'password' : 'none',
    ...source.seen(d.id),
  }));
  return { devices };
}

export interface DeviceRoute {
  method: 'GET' | 'POST';
  access: Access; // the least token that may call it
  run(source: DeviceRoutesSource): Promise<unknown>;
}

// The route for a path, or undefined when the path is not one of these.
export function deviceRoute(pathname: string): DeviceRoute | undefined {
  if (pathname === '/v1/devices') return { method: 'GET', access: 'read', run: async (source) => deviceListing(source) };
  if (pathname === '/v1/rules/reload') return { method: 'POST', access: 'admin', run: reload };
  return undefined;
}

// A reload whose files do not load is refused, 422 RULES_INVALID: the running rules stay.
export class RulesReloadRefused extends Error {
  readonly code = 'RULES_INVALID';
}

async function reload(source: DeviceRoutesSource): Promise<unknown> {
  const outcome = await source.reloadRules();
  if (!outcome.ok) throw new RulesReloadRefused(`the rule files do not load; the running rules stay:\n${outcome.problems}`);
  return outcome;
}
