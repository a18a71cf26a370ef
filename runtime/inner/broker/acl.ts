// Who may publish and subscribe to what (docs/design.md, "The medical-side contract").
// Default deny: a device publishes only to its own dev/{id}/up/{type} and reads its own
// dev/{id}/down plus the shared filters its role lists in rules/roles.yaml.
import type { DeviceRule, RoleRule } from '../../rules/types.js';
import { parseUpTopic, topics } from '../../../devices/protocol.js';

export function mayPublish(device: DeviceRule, topic: string): boolean {
  const up = parseUpTopic(topic);
  return up !== null && up.deviceId === device.id && !/[+#]/.test(topic);
}

export function allowedFilters(device: DeviceRule, role: RoleRule | undefined): string[] {
  const own = topics.down(device.id);
  const shared = (role?.subscribe ?? []).flatMap((pattern) => {
    if (pattern.includes('{dept}') && !device.dept) return [];
    return [pattern.replaceAll('{id}', device.id).replaceAll('{dept}', device.dept ?? '')];
  });
  return [own, ...shared];
}

// A requested filter is allowed when every topic it can match is matched by an allowed
// filter: equal filters, or a request that narrows an allowed `#`/`+` filter.
export function maySubscribe(requested: string, allowed: readonly string[]): boolean {
  return allowed.some((filter) => covers(filter, requested));
}

function covers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    if (level === '#') return true;
    const wanted = r[i];
    if (wanted === undefined) return false;
    if (level === '+') {
      if (wanted === '#') return false;
      continue;
    }
    if (wanted === '#' || wanted === '+' || wanted !== level) return false;
  }
  return r.length === a.length;
}
