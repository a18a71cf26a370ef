// What changed in gateway.yaml between two loads, as dotted key paths (`mqtt.port`,
// `management.token`). A reload applies devices, roles, messages, departments and triage
// live; every gateway.yaml setting is read once at start (sockets, the data directory,
// the payment server, the time zone, tokens, limits), so a changed key is reported as
// needing a restart rather than ignored silently. Only key names are reported, never
// values: some are secrets.
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedKeys(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || '(whole file)'];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
