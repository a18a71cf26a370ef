// The rule files: the examples load, and every kind of broken file is refused with a
// problem that names the right file and line (invariant 5 of docs/design.md). Each test edits
// its own copy of rules/ in a temp dir; the real rules/ is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatewayConfig, loadRules } from '../runtime/rules/load.js';
import { RulesError, type RuleProblem } from '../runtime/rules/types.js';
import { generateSecret, hashPassword, verifyPassword } from '../runtime/rules/password.js';
import { RULE_DEFAULTS } from '../runtime/rules/defaults.js';
import { DEMO_DEVICES } from '../sim/demo-devices.js';
import { problemsOf } from './helpers/rules.js';
import { ferry } from './helpers/management.js';

const EXAMPLE_RULES = fileURLToPath(new URL('../../rules', import.meta.url));
const dirs: string[] = [];

function copyRules(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-rules-'));
  dirs.push(dir);
  cpSync(EXAMPLE_RULES, dir, { recursive: true });
  return dir;
}

function edit(dir: string, file: string, change: (text: string) => string): string {
  const before = readFileSync(join(dir, file), 'utf8');
  const after = change(before);
  assert.is.not(after, before, `the edit of ${file} changed nothing`);
  writeFileSync(join(dir, file), after);
  return after;
}

// 1-based line of the first line containing `needle`.
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `"${needle}" is in the file`);
  return index + 1;
}


function assertProblem(problems: RuleProblem[], file: string, line: number, message: RegExp): void {
  const hit = problems.find((p) => p.file === file && p.line === line && message.test(p.message));
  assert.ok(hit, `expected ${file}:${line} ${message}; got\n${problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n')}`);
}

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('the example rules load with the demo devices and the foundation message types', () => {
  const rules = loadRules(EXAMPLE_RULES);
  assert.is(rules.devices.size, DEMO_DEVICES.length);
  for (const d of DEMO_DEVICES) {
    const rule = rules.devices.get(d.id);
    assert.ok(rule, d.id);
    assert.is(rule!.role, d.role);
    assert.is(rule!.dept, d.dept);
    assert.is(rule!.disabled, false);
  }
  for (const type of ['bill.create', 'bill.query', 'payment.request', 'patient.info', 'dispatch.ack']) assert.ok(rules.messages.has(type), type);
  assert.equal(rules.roles.get('kiosk')!.subscribe, ['slots/#']);
  assert.equal(rules.roles.get('workstation')!.subscribe, ['dept/{dept}/inbox']);
  assert.is(rules.gateway.payment.url, null);
  assert.is(rules.gateway.mqtt.port, 1883);
  assert.is(rules.messages.get('bill.query')!.maxBytes, RULE_DEFAULTS.limits.maxPayloadBytes);
});

test('the example devices.yaml holds hashes of the demo passwords, never the passwords', async () => {
  const rules = loadRules(EXAMPLE_RULES);
  const text = readFileSync(join(EXAMPLE_RULES, 'devices.yaml'), 'utf8');
  for (const d of DEMO_DEVICES) {
    assert.ok(await verifyPassword(d.password, rules.devices.get(d.id)!.password!), d.id);
    assert.not.ok(text.includes(d.password), `${d.id}'s password is not in the file`);
  }
});

test('loaded rules are frozen: a running gateway cannot edit them', () => {
  const rules = loadRules(EXAMPLE_RULES);
  assert.ok(Object.isFrozen(rules));
  assert.ok(Object.isFrozen(rules.gateway.payment));
  assert.ok(Object.isFrozen(rules.devices.get('kiosk-01')));
  assert.ok(Object.isFrozen(rules.messages.get('bill.create')!.schema));
  assert.throws(() => (rules.devices as Map<string, unknown>).set('x', {}), /read-only/);
  assert.ok(Object.isFrozen(RULE_DEFAULTS.limits));
});

test('the example body schemas reject unknown fields and require authCode when paying by code', async () => {
  const { createBodyAjv } = await import('../runtime/rules/body-schema.js');
  const rules = loadRules(EXAMPLE_RULES);
  const validate = createBodyAjv().compile(rules.messages.get('payment.request')!.schema);
  const ok = { billId: 'B123', amount: 100, currency: 'CNY', method: 'qr' };
  assert.ok(validate(ok));
  assert.not.ok(validate({ ...ok, extra: 1 }));
  assert.not.ok(validate({ ...ok, method: 'code' }));
  assert.ok(validate({ ...ok, method: 'code', authCode: '123456' }));
});

test('a YAML syntax error names the file and line', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  port: 1883', '   port: 1883 # misaligned'));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, '# misaligned'), /YAML/);
});

test('a duplicate YAML key names the file and the line of the second key', () => {
  const dir = copyRules();
  const text = edit(dir, 'roles.yaml', (t) => t.replace('  receiver:\n', '  receiver:\n    subscribe: []\n  # again\n  receiver:\n'));
  assertProblem(problemsOf(dir), 'roles.yaml', lineOf(text, '# again') + 1, /duplicate key/);
});

test('an unknown key is refused at its line', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace('  - id: desk-01\n', '  - id: desk-01\n    colour: blue\n'));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, 'colour: blue'), /colour: unknown key/);
});

test('ferry rules check refuses an unknown time zone in gateway.yaml with file:line and exits 1', async () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('timeZone: Asia/Shanghai', 'timeZone: Asia/Beijing'));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, 'Asia/Beijing'), /timeZone: unknown time zone "Asia\/Beijing"/);
  const check = await ferry(['rules', 'check', dir]);
  assert.is(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout + check.stderr, new RegExp(`gateway\\.yaml:${lineOf(text, 'Asia/Beijing')}:\\d+: .*unknown time zone`));
});

test('the hospital\'s time zone comes from gateway.yaml (Asia/Shanghai when left out); any IANA zone is taken', () => {
  const dir = copyRules();
  edit(dir, 'gateway.yaml', (t) => t.replace('timeZone: Asia/Shanghai\n', ''));
  assert.is(loadRules(dir).gateway.timeZone, 'Asia/Shanghai');
  edit(dir, 'gateway.yaml', (t) => `timeZone: Europe/Berlin\n${t}`);
  assert.is(loadGatewayConfig(dir).timeZone, 'Europe/Berlin');
});

test('a departments.yaml that still has utcOffset is refused at its line, pointing at gateway.yaml timeZone', () => {
  const dir = copyRules();
  const text = edit(dir, 'departments.yaml', (t) => `utcOffset: "+08:00"\n${t}`);
  const problems = problemsOf(dir);
  assertProblem(problems, 'departments.yaml', lineOf(text, 'utcOffset'), /utcOffset is no longer read here: set the hospital's time zone once in gateway\.yaml \(timeZone/);
  assert.is(problems.length, 1, JSON.stringify(problems));
});

test('an unknown key in gateway.yaml is refused, however deep', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  toleranceSec: 300', '  toleranceSecs: 300'));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, 'toleranceSecs'), /unknown key/);
});

test('the store is LevelDB unless gateway.yaml says postgres, with the connection string in a file only the inner side reads', () => {
  assert.equal(loadRules(copyRules()).gateway.store, { backend: 'leveldb' });
  const dir = copyRules();
  edit(dir, 'gateway.yaml', (t) => `${t}\nstore:\n  backend: postgres\n  postgres:\n    urlFile: db/store.url\n`);
  // The file is not read at load (the outer side loads gateway.yaml too): only its path.
  assert.equal(loadRules(dir).gateway.store, { backend: 'postgres', postgres: { urlFile: join(dir, 'db/store.url') } });
});

test('a misspelt store key, an unknown backend, or postgres without its urlFile is refused at its line', () => {
  const misspelt = copyRules();
  let text = edit(misspelt, 'gateway.yaml', (t) => `${t}\nstore:\n  backend: postgres\n  postgres:\n    urlfile: store.url\n`);
  assertProblem(problemsOf(misspelt), 'gateway.yaml', lineOf(text, 'urlfile'), /unknown key/);
  const unknown = copyRules();
  text = edit(unknown, 'gateway.yaml', (t) => `${t}\nstore:\n  backend: sqlite\n`);
  assertProblem(problemsOf(unknown), 'gateway.yaml', lineOf(text, 'backend: sqlite'), /must be one of: "leveldb", "postgres"/);
  const bare = copyRules();
  text = edit(bare, 'gateway.yaml', (t) => `${t}\nstore:\n  backend: postgres\n`);
  assert.ok(problemsOf(bare).some((p) => p.file === 'gateway.yaml' && /needs `postgres: \{ urlFile/.test(p.message)), 'postgres without urlFile is refused');
});

test('a value of the wrong type names its line', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  port: 8480 ', '  port: "eighty" '));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, '"eighty"'), /notify\.port: must be integer/);
});

test('a port out of range is refused and port 0 is allowed', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  port: 1883 ', '  port: 70000 ').replace('  port: 8480 ', '  port: 0 '));
  const problems = problemsOf(dir);
  assertProblem(problems, 'gateway.yaml', lineOf(text, 'port: 70000'), /<= 65535/);
  assert.is(problems.length, 1);
});

test('a duplicate device id is refused at the second entry', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace('  - id: kiosk-02\n', '  - id: kiosk-01 # twice\n'));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, '# twice'), /duplicate device id "kiosk-01"/);
});

test('a device whose role roles.yaml does not define is refused at its role', () => {
  const dir = copyRules();
  edit(dir, 'roles.yaml', (t) => t.replace('  receiver:\n    subscribe: []\n', ''));
  const devices = readFileSync(join(dir, 'devices.yaml'), 'utf8');
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(devices, 'role: receiver'), /role "receiver" is not defined in roles\.yaml/);
});

test('a role name outside the known roles is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace('role: registration_desk', 'role: nurse'));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, 'role: nurse'), /must be one of/);
});

test('a workstation without dept is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace('    dept: INT\n', ''));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, 'id: ws-int-01'), /needs `dept`/);
});

test('a device without password or certificate fingerprint is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace(/(  - id: desk-01\n    role: registration_desk\n)    password: .*\n/, '$1'));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, 'id: desk-01'), /needs a credential/);
});

test('a device id with an MQTT wildcard or slash is refused', () => {
  for (const bad of ['kiosk/01', 'kiosk+', 'kiosk#', '-kiosk']) {
    const dir = copyRules();
    const text = edit(dir, 'devices.yaml', (t) => t.replace('id: kiosk-02', `id: "${bad}"`));
    assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, `"${bad}"`), /must match pattern/);
  }
});

test('a malformed password hash is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'devices.yaml', (t) => t.replace(/password: scrypt\$16384(.*)\n/, 'password: scrypt$999$8$1$abc$def\n'));
  assertProblem(problemsOf(dir), 'devices.yaml', lineOf(text, 'scrypt$999'), /not a valid scrypt hash/);
});

test('a message body schema without additionalProperties: false is refused at that object', () => {
  const dir = copyRules();
  const text = edit(dir, 'messages.yaml', (t) => t.replace(
    '          items:\n            type: object\n            additionalProperties: false\n',
    '          items:\n            type: object # open\n',
  ));
  assertProblem(problemsOf(dir), 'messages.yaml', lineOf(text, 'type: object # open') - 1, /additionalProperties: false/);
});

test('a body schema with an unknown keyword does not compile and is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'messages.yaml', (t) => t.replace('          maxItems: 100\n', '          maxItems: 100\n          maxItem: 100\n'));
  assertProblem(problemsOf(dir), 'messages.yaml', lineOf(text, 'maxItem: 100'), /does not compile.*maxItem/);
});

test('an unbounded string in a body schema is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'messages.yaml', (t) => t.replace('                minLength: 1\n                maxLength: 64\n', '                minLength: 1 # unbounded\n'));
  assertProblem(problemsOf(dir), 'messages.yaml', lineOf(text, '# unbounded') - 2, /maxLength/);
});

test('a message type with a bad name or an undefined role is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'messages.yaml', (t) => t.replace('  bill.query:', '  BillQuery:').replace('roles: [kiosk]', 'roles: [kiosk, receptionist]'));
  const problems = problemsOf(dir);
  assertProblem(problems, 'messages.yaml', lineOf(text, 'BillQuery:'), /lower-case words joined by dots/);
  assertProblem(problems, 'messages.yaml', lineOf(text, 'receptionist'), /role "receptionist" is not defined/);
});

test('maxBytes outside 256 bytes .. 1 MiB is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'messages.yaml', (t) => t.replace('    maxBytes: 4096', '    maxBytes: 100'));
  assertProblem(problemsOf(dir), 'messages.yaml', lineOf(text, 'maxBytes: 100'), />= 256/);
});

test('a short payment secret is refused at its line', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace(/  secret: .*\n/, '  secret: too-short\n'));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, 'secret: too-short'), /at least 32 characters/);
});

test('a payment secret is read from secretFile relative to the rules directory', () => {
  const dir = copyRules();
  const secret = 'x'.repeat(40);
  writeFileSync(join(dir, 'payment.secret'), `${secret}\n`);
  edit(dir, 'gateway.yaml', (t) => t.replace(/  secret: .*\n/, '  secretFile: payment.secret\n'));
  assert.is(loadRules(dir).gateway.payment.secret, secret);
  unlinkSync(join(dir, 'payment.secret'));
  const text = readFileSync(join(dir, 'gateway.yaml'), 'utf8');
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, '  secretFile: payment.secret'), /file not found/);
});

test('a payment url that is not http(s) is refused at its line', () => {
  for (const url of ['ftp://pay.example.cn/', 'not a url', 'https://user:pw@pay.example.cn/']) {
    const dir = copyRules();
    const text = edit(dir, 'gateway.yaml', (t) => t.replace('  url: null', `  url: "${url}"`));
    assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, `url: "${url}"`), /payment\.url/);
  }
});

test('a missing payment url is refused rather than taken as the simulator', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  url: null\n', ''));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, 'payment:'), /missing required key "url"/);
});

test('an unknown log level is refused', () => {
  const dir = copyRules();
  const text = edit(dir, 'gateway.yaml', (t) => t.replace('  level: info', '  level: verbose'));
  assertProblem(problemsOf(dir), 'gateway.yaml', lineOf(text, 'level: verbose'), /must be one of/);
});

test('a role may not subscribe to other devices\' topics', () => {
  const dir = copyRules();
  const text = edit(dir, 'roles.yaml', (t) => t.replace('  billing_desk:\n    subscribe: []', '  billing_desk:\n    subscribe: ["dev/+/down"]'));
  assertProblem(problemsOf(dir), 'roles.yaml', lineOf(text, 'dev/+/down'), /may not subscribe to device topics/);
});

test('a missing rule file is reported as that file', () => {
  const dir = copyRules();
  unlinkSync(join(dir, 'messages.yaml'));
  assertProblem(problemsOf(dir), 'messages.yaml', 0, /file not found/);
});

test('problems in several files are all reported at once', () => {
  const dir = copyRules();
  edit(dir, 'gateway.yaml', (t) => t.replace('  level: info', '  level: loud'));
  edit(dir, 'devices.yaml', (t) => t.replace('role: kiosk', 'role: robot'));
  edit(dir, 'messages.yaml', (t) => t.replace('    maxBytes: 4096', '    maxBytes: 1'));
  const files = new Set(problemsOf(dir).map((p) => p.file));
  assert.equal([...files].sort(), ['devices.yaml', 'gateway.yaml', 'messages.yaml']);
});

test('loadGatewayConfig reads gateway.yaml alone, without device credentials', () => {
  const dir = copyRules();
  for (const f of ['devices.yaml', 'roles.yaml', 'messages.yaml']) unlinkSync(join(dir, f));
  const gateway = loadGatewayConfig(dir);
  assert.is(gateway.notify.port, 8480);
  assert.ok(Object.isFrozen(gateway));
  edit(dir, 'gateway.yaml', (t) => t.replace('  url: null', '  url: gopher://x'));
  assert.throws(() => loadGatewayConfig(dir), (err: unknown) => err instanceof RulesError && err.problems[0]!.file === 'gateway.yaml');
});

test('defaults fill keys left out of gateway.yaml and messages.yaml', () => {
  const dir = copyRules();
  writeFileSync(join(dir, 'gateway.yaml'), 'payment:\n  url: null\n  secret: "0123456789abcdef0123456789abcdef"\n');
  edit(dir, 'messages.yaml', (t) => t.replace('    rate: { perMinute: 60, burst: 20 }\n', ''));
  const rules = loadRules(dir);
  assert.equal(rules.gateway.mqtt, { host: '0.0.0.0', port: 1883 });
  assert.equal(rules.gateway.notify, { host: '127.0.0.1', port: 8480, toleranceSec: 300 });
  assert.is(rules.gateway.payment.simulatorPort, 8490);
  assert.is(rules.gateway.channel.socket, 'ferry.sock');
  assert.equal(rules.gateway.limits, { maxPayloadBytes: 16384, replyWaitMs: 3000 });
  assert.is(rules.gateway.log.level, 'info');
  assert.equal(rules.messages.get('bill.query')!.rate, { perMinute: 60, burst: 20 });
});

test('a password verifies against its own hash only', async () => {
  const secret = generateSecret();
  assert.match(secret, /^[A-Za-z0-9_-]{32}$/);
  const encoded = await hashPassword(secret);
  assert.match(encoded, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.ok(await verifyPassword(secret, encoded));
  assert.not.ok(await verifyPassword(`${secret}x`, encoded));
  assert.not.ok(await verifyPassword(secret, await hashPassword(secret + 'y')));
});

test('a malformed or unaffordable password encoding verifies nothing', async () => {
  const encoded = await hashPassword('pw');
  const withN = (n: string) => encoded.replace(/^scrypt\$[0-9]+/, `scrypt$${n}`);
  assert.ok(await verifyPassword('pw', withN('16384')));
  for (const bad of ['', 'scrypt', 'bcrypt$x', encoded.slice(0, -4), withN('1048576'), withN('1000')]) {
    assert.not.ok(await verifyPassword('pw', bad), bad);
  }
});

test.run();
