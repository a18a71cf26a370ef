// `ferry devices add|disable|enable|rotate|remove`: the only code that writes a rule file. A change is
// made on the YAML document (so comments and layout stay as the operator left them),
// the whole rule set is loaded with the change, and only then is devices.yaml replaced,
// atomically and keeping its owner, group and mode. A rule set that would not load is
// never written.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, stringify, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { ROLES, RulesError, type RuleProblem } from './types.js';
import { RULE_FILES } from './defaults.js';
import { CERT_FINGERPRINT, DEPT, DEVICE_ID } from './file-schemas.js';
import { generateSecret, hashPassword } from './password.js';
import { loadRulesWith } from './load.js';
import { replaceFile } from '../common/replace-file.js';

export interface NewDevice {
  id: string;
  role: string;
  dept?: string;
  // A device that logs in with a TLS client certificate (its SHA-256 fingerprint, as
  // `ferry tls make-test-ca` or `openssl x509 -fingerprint -sha256` print it) gets no
  // password at all.
  certFingerprint?: string;
}

const FILE = RULE_FILES.devices;
// Another `devices` command may write between our read and our rename; we notice and
// start again, a few times at most.
const WRITE_ATTEMPTS_MAX = 3;

// Returns the new device's password: shown once, stored nowhere but as its hash. A
// certificate device has none: the empty string is returned.
export async function addDevice(dir: string, device: NewDevice): Promise<string> {
  refuseBadSpec(device);
  const secret = device.certFingerprint === undefined ? generateSecret() : '';
  const credential: Record<string, string> = device.certFingerprint === undefined
    ? { password: await hashPassword(secret) }
    : { certFingerprint: device.certFingerprint.toUpperCase() };
  await rewrite(dir, (doc, text, lines) => {
    const seq = devicesSeq(doc);
    const existing = seq ? findDevice(seq, device.id) : -1;
    if (seq && existing >= 0) {
      const line = lines.linePos((seq.items[existing] as YAMLMap).range?.[0] ?? 0).line;
      throw refusal(`device "${device.id}" already exists (line ${line})`, line);
    }
    const entry = { id: device.id, role: device.role, ...(device.dept !== undefined ? { dept: device.dept } : {}), ...credential };
    const spliced = seq && seq.items.length > 0 && !seq.flow ? appendItem(seq, text, lines, entry) : null;
    if (seq) {
      seq.flow = false;
      seq.add(doc.createNode(entry));
    } else {
      doc.set('devices', doc.createNode([entry]));
    }
    return spliced;
  });
  return secret;
}

// Sets `disabled: true`; a device that is already disabled is left as it is.
export async function disableDevice(dir: string, id: string): Promise<void> {
  await rewrite(dir, (doc, text, lines) => {
    const seq = devicesSeq(doc);
    const index = seq ? findDevice(seq, id) : -1;
    if (!seq || index < 0) throw refusal(`no device "${id}" in ${FILE}`, 0);
    const item = seq.items[index] as YAMLMap;
    if (item.get('disabled') === true) return text;
    const spliced = item.flow ? null : setDisabled(item, text, lines);
    item.set('disabled', true);
    return spliced;
  });
}

// Removes `disabled` (the reverse of disableDevice); an enabled device is left as it is.
export async function enableDevice(dir: string, id: string): Promise<void> {
  await rewrite(dir, (doc, text) => {
    const item = deviceItem(doc, id);
    if (!item.has('disabled')) return text;
    const spliced = item.flow ? null : deletePairLine(item, 'disabled', text);
    item.delete('disabled');
    return spliced;
  });
}

// A new password for a password device: returned once, stored as its hash. The old one
// is refused from the next CONNECT once the gateway has reloaded.
export async function rotateDevice(dir: string, id: string): Promise<string> {
  const secret = generateSecret();
  const hash = await hashPassword(secret);
  await rewrite(dir, (doc, text) => {
    const item = deviceItem(doc, id);
    if (item.has('certFingerprint')) {
      throw refusal(`device "${id}" logs in with a TLS client certificate, not a password: issue it a new certificate, remove the device and add it again with --cert-fingerprint`, 0);
    }
    const pair = item.items.find((p) => isScalar(p.key) && p.key.value === 'password');
    const range = pair && isScalar(pair.value) ? pair.value.range : null;
    item.set('password', hash);
    return range ? text.slice(0, range[0]) + hash + text.slice(range[1]) : null;
  });
  return secret;
}

// Deletes the device's entry. Its id stays in the audit log's history.
export async function removeDevice(dir: string, id: string): Promise<void> {
  await rewrite(dir, (doc, text) => {
    const seq = devicesSeq(doc);
    const index = seq ? findDevice(seq, id) : -1;
    if (!seq || index < 0) throw refusal(`no device "${id}" in ${FILE}`, 0);
    const item = seq.items[index] as YAMLMap;
    const spliced = item.flow || seq.flow ? null : deleteLines(text, item.range?.[0], item.range?.[1]);
    seq.delete(index);
    return spliced;
  });
}

export interface FileDevice {
  id: string;
  role: string;
  dept: string | null;
  enabled: boolean;
  login: 'password' | 'certificate' | 'none';
}

// The devices of devices.yaml as the gateway would load them (the whole rule set must
// load, as at start).
export function listDevices(dir: string): FileDevice[] {
  const rules = loadRulesWith(dir, {});
  return [...rules.devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) => ({
    id: d.id, role: d.role, dept: d.dept ?? null, enabled: !d.disabled,
    login: d.certFingerprint !== undefined ? 'certificate' : d.password !== undefined ? 'password' : 'none',
  }));
}

function deviceItem(doc: Document.Parsed, id: string): YAMLMap {
  const seq = devicesSeq(doc);
  const index = seq ? findDevice(seq, id) : -1;
  if (!seq || index < 0) throw refusal(`no device "${id}" in ${FILE}`, 0);
  return seq.items[index] as YAMLMap;
}

// The line(s) of one key of a block mapping, gone; null when the key shares its line.
function deletePairLine(item: YAMLMap, key: string, text: string): string | null {
  const pair = item.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key) || !isScalar(pair.value)) return null;
  return deleteLines(text, pair.key.range?.[0], pair.value.range?.[1]);
}

// Whole lines from the one holding `start` to the one holding the character before `end`.
function deleteLines(text: string, start: number | undefined, end: number | undefined): string | null {
  if (start === undefined || end === undefined) return null;
  const from = text.lastIndexOf('\n', start - 1) + 1;
  const nl = text.indexOf('\n', Math.max(start, end - 1));
  const to = nl < 0 ? text.length : nl + 1;
  return text.slice(0, from) + text.slice(to);
}

function refuseBadSpec(d: NewDevice): void {
  const problems: string[] = [];
  if (!new RegExp(DEVICE_ID).test(d.id)) problems.push(`device id "${d.id}" must match ${DEVICE_ID} (letters, digits, _ and -)`);
  if (!(ROLES as readonly string[]).includes(d.role)) problems.push(`unknown role "${d.role}"; roles are ${ROLES.join(', ')}`);
  if (d.dept !== undefined && !new RegExp(DEPT).test(d.dept)) problems.push(`dept "${d.dept}" must match ${DEPT}`);
  if (d.role === 'workstation' && d.dept === undefined) problems.push('a workstation device needs --dept (its department code)');
  if (d.certFingerprint !== undefined && !new RegExp(CERT_FINGERPRINT).test(d.certFingerprint)) {
    problems.push(`certificate fingerprint "${d.certFingerprint}" must be 32 hex bytes separated by colons (openssl x509 -fingerprint -sha256)`);
  }
  if (problems.length > 0) throw new RulesError(problems.map((message) => ({ file: FILE, line: 0, column: 0, message })));
}

function refusal(message: string, line: number): RulesError {
  return new RulesError([{ file: FILE, line, column: line > 0 ? 1 : 0, message }]);
}

type Edit = (doc: Document.Parsed, text: string, lines: LineCounter) => string | null;

// Reads, edits, checks the whole rule set with the result, then replaces the file.
// `edit` mutates the document and may return the same change made as a text splice,
// which is used when it parses to exactly the mutated document (the splice keeps
// every byte the operator wrote; Document#toString re-spaces aligned comments).
async function rewrite(dir: string, edit: Edit): Promise<void> {
  const path = join(resolve(dir), FILE);
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS_MAX; attempt++) {
    const text = readFileSync(path, 'utf8');
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, strict: true, prettyErrors: true });
    if (doc.errors.length > 0) throw new RulesError(doc.errors.map((e) => yamlProblem(e.message, e.linePos?.[0])));
    const spliced = edit(doc, text, lines);
    if (spliced === text) return;
    const expected = JSON.stringify(doc.toJS());
    const next = spliced !== null && sameData(spliced, expected) ? spliced : doc.toString({ lineWidth: 0 });
    loadRulesWith(dir, { [FILE]: next }); // throws RulesError: the change would break the rules
    if (writeIfUnchanged(path, text, next)) return;
  }
  throw refusal(`${FILE} kept changing while it was being edited; try again`, 0);
}

function yamlProblem(message: string, pos: { line: number; col: number } | undefined): RuleProblem {
  return { file: FILE, line: pos?.line ?? 0, column: pos?.col ?? 0, message: `YAML: ${message.split('\n')[0]}` };
}

function sameData(text: string, expectedJson: string): boolean {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true });
  return doc.errors.length === 0 && JSON.stringify(doc.toJS()) === expectedJson;
}

function devicesSeq(doc: Document.Parsed): YAMLSeq | null {
  const node = doc.get('devices', true);
  return isSeq(node) ? node : null;
}

function findDevice(seq: YAMLSeq, id: string): number {
  return seq.items.findIndex((item) => isMap(item) && item.get('id') === id);
}

// The new entry as block YAML after the last item, indented like the items above it.
function appendItem(seq: YAMLSeq, text: string, lines: LineCounter, entry: Record<string, string>): string | null {
  const last = seq.items[seq.items.length - 1];
  if (!isMap(last) || last.range === undefined || last.range === null) return null;
  const dashColumn = lines.linePos(last.range[0]).col - 3; // `- ` precedes the first key
  if (dashColumn < 0) return null;
  const pad = ' '.repeat(dashColumn);
  const body = Object.entries(entry).map(([k, v], i) => `${pad}${i === 0 ? '- ' : '  '}${k}: ${yamlScalar(v)}\n`);
  return insertAfterLine(text, last.range[1], body.join(''));
}

function setDisabled(item: YAMLMap, text: string, lines: LineCounter): string | null {
  const pair = item.items.find((p) => isScalar(p.key) && p.key.value === 'disabled');
  if (pair) {
    const range = isScalar(pair.value) ? pair.value.range : null;
    return range ? text.slice(0, range[0]) + 'true' + text.slice(range[1]) : null;
  }
  const first = item.items[0];
  const lastPair = item.items[item.items.length - 1];
  const keyStart = isScalar(first?.key) ? first.key.range?.[0] : undefined;
  const valueEnd = isScalar(lastPair?.value) ? lastPair.value.range?.[1] : undefined;
  if (keyStart === undefined || valueEnd === undefined) return null;
  const pad = ' '.repeat(lines.linePos(keyStart).col - 1);
  return insertAfterLine(text, valueEnd, `${pad}disabled: true\n`);
}

// `insertion` as whole lines after the line holding the character before `offset`
// (a node's range may end just before or just after its line's newline).
function insertAfterLine(text: string, offset: number, insertion: string): string {
  const nl = text.indexOf('\n', Math.max(0, offset - 1));
  if (nl < 0) return `${text}\n${insertion}`;
  return text.slice(0, nl + 1) + insertion + text.slice(nl + 1);
}

function yamlScalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

// Replaced only if nobody wrote it since we read it; owner, group and mode are kept.
function writeIfUnchanged(path: string, before: string, next: string): boolean {
  return replaceFile(path, next, { beforeRename: () => readFileSync(path, 'utf8') === before });
}
