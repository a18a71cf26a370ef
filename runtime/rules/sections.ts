// roles.yaml, devices.yaml and messages.yaml: each checked against its schema, then
// for meaning (cross-file references included), then turned into frozen maps. A
// builder returns null only when the file fails its schema; problems of meaning are
// appended and the map is still returned so that the other files can be checked
// against it (the loader throws if any problem was found).
import { ROLES, type DeviceRule, type MessageRule, type Role, type RoleRule, type RuleProblem } from './types.js';
import { fileValidators } from './file-schemas.js';
import { RULE_DEFAULTS as D, deepFreeze } from './defaults.js';
import { parseScrypt } from './password.js';
import { checkBodySchema } from './body-schema.js';
import { MESSAGE_TYPE } from './file-schemas.js';
import { locate, problemAt, schemaProblem, type YamlSource } from './yaml-source.js';
import type { ValidateFunction } from 'ajv';

// A Map whose mutators throw: Object.freeze alone does not stop Map#set.
export function frozenMap<K, V>(entries: Iterable<[K, V]>): ReadonlyMap<K, V> {
  const map = new Map(entries);
  const refuse = (): never => {
    throw new TypeError('rules are read-only; reload them instead');
  };
  Object.defineProperties(map, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(map);
}

function schemaOk(src: YamlSource, validate: ValidateFunction, problems: RuleProblem[]): boolean {
  if (validate(src.data)) return true;
  for (const err of validate.errors ?? []) problems.push(schemaProblem(src, err));
  return false;
}

// ---- roles.yaml

export function buildRoles(src: YamlSource, problems: RuleProblem[]): ReadonlyMap<Role, RoleRule> | null {
  if (!schemaOk(src, fileValidators().roles, problems)) return null;
  const raw = (src.data as { roles: Partial<Record<Role, { subscribe?: string[] } | null>> }).roles;
  const roles: [Role, RoleRule][] = [];
  for (const name of ROLES) {
    if (!(name in raw)) continue;
    const subscribe = raw[name]?.subscribe ?? [...D.role.subscribe];
    subscribe.forEach((filter, i) => {
      const why = topicFilterProblem(filter);
      if (why) problems.push(problemAt(src, ['roles', name, 'subscribe', i], why));
    });
    roles.push([name, deepFreeze({ name, subscribe: [...subscribe] })]);
  }
  return frozenMap(roles);
}

const PLACEHOLDERS = /\{(id|dept)\}/g;
const LEVEL_CHARS = /^[A-Za-z0-9_.-]*$/;

// A role's extra subscriptions: valid MQTT filters that can never reach another
// device's own topics (dev/...) or the broker's ($SYS/...).
export function topicFilterProblem(filter: string): string | null {
  const levels = filter.split('/');
  const first = levels[0]!;
  if (first === '#' || first === '+' || first === 'dev' || first.startsWith('$')) {
    return 'a role may not subscribe to device topics (dev/...), system topics ($...) or a wildcard first level';
  }
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '') return 'a topic level is empty';
    if (level === '#') {
      if (i !== levels.length - 1) return '`#` may only be the last level';
      continue;
    }
    if (level === '+') continue;
    const bare = level.replace(PLACEHOLDERS, 'x');
    if (!LEVEL_CHARS.test(bare)) return `level "${level}" may hold only letters, digits, _ . - and the placeholders {id} and {dept}`;
  }
  return null;
}

// ---- devices.yaml

interface RawDevice { id: string; role: Role; dept?: string; password?: string; certFingerprint?: string; disabled?: boolean }

export function buildDevices(src: YamlSource, roles: ReadonlyMap<Role, RoleRule> | null, problems: RuleProblem[]): ReadonlyMap<string, DeviceRule> | null {
  if (!schemaOk(src, fileValidators().devices, problems)) return null;
  const raw = (src.data as { devices: RawDevice[] }).devices;
  const devices = new Map<string, DeviceRule>();
  const firstLine = new Map<string, number>();
  raw.forEach((d, i) => {
    const at = (key: string[], message: string) => problems.push(problemAt(src, ['devices', i, ...key], message));
    const seen = firstLine.get(d.id);
    if (seen !== undefined) {
      at(['id'], `duplicate device id "${d.id}" (first defined at line ${seen})`);
      return;
    }
    firstLine.set(d.id, locate(src, ['devices', i]).line);
    const role = roles?.get(d.role);
    if (roles && !role) at(['role'], `role "${d.role}" is not defined in roles.yaml`);
    const needsDept = d.role === 'workstation' || (role?.subscribe.some((f) => f.includes('{dept}')) ?? false);
    if (needsDept && d.dept === undefined) at([], `a ${d.role} device needs \`dept\` (its department code)`);
    if (d.password === undefined && d.certFingerprint === undefined) {
      at([], 'a device needs a credential: `password` (scrypt hash from `ferry devices add`) or `certFingerprint`');
    }
    if (d.password !== undefined && parseScrypt(d.password) === null) {
      at(['password'], 'is not a valid scrypt hash (scrypt$N$r$p$salt$hash); generate it with `ferry devices add`');
    }
    devices.set(d.id, deepFreeze({
      id: d.id,
      role: d.role,
      ...(d.dept !== undefined ? { dept: d.dept } : {}),
      ...(d.password !== undefined ? { password: d.password } : {}),
      ...(d.certFingerprint !== undefined ? { certFingerprint: d.certFingerprint.toUpperCase() } : {}),
      disabled: d.disabled ?? D.device.disabled,
    }));
  });
  return frozenMap(devices);
}

// ---- messages.yaml

interface RawMessage { roles: string[]; maxBytes?: number; rate?: { perMinute?: number; burst?: number }; schema: object }

export function buildMessages(
  src: YamlSource,
  roles: ReadonlyMap<Role, RoleRule> | null,
  maxPayloadBytes: number,
  problems: RuleProblem[],
): ReadonlyMap<string, MessageRule> | null {
  if (!schemaOk(src, fileValidators().messages, problems)) return null;
  const raw = (src.data as { messages: Record<string, RawMessage> }).messages;
  const typePattern = new RegExp(MESSAGE_TYPE);
  const messages: [string, MessageRule][] = [];
  for (const [type, m] of Object.entries(raw)) {
    const at = (path: (string | number)[], message: string, key = false) =>
      problems.push(problemAt(src, ['messages', type, ...path], message, key));
    if (!typePattern.test(type)) {
      problems.push(problemAt(src, ['messages', type], 'a message type is lower-case words joined by dots, like `bill.create`', true));
    }
    m.roles.forEach((r, i) => {
      if (roles && !roles.has(r as Role)) at(['roles', i], `role "${r}" is not defined in roles.yaml`);
    });
    const maxBytes = m.maxBytes ?? maxPayloadBytes;
    if (maxBytes > maxPayloadBytes) at(['maxBytes'], `is larger than limits.maxPayloadBytes of gateway.yaml (${maxPayloadBytes})`);
    for (const issue of checkBodySchema(m.schema)) at(['schema', ...issue.path], issue.message);
    messages.push([type, deepFreeze({
      type,
      roles: [...m.roles] as Role[],
      maxBytes,
      rate: { perMinute: m.rate?.perMinute ?? D.message.rate.perMinute, burst: m.rate?.burst ?? D.message.rate.burst },
      schema: m.schema,
    })]);
  }
  return frozenMap(messages);
}
