// `ferry firewall plan` as an operator runs it: golden rulesets for several policies,
// and bad policies refused with file:line before any ruleset is printed (invariant 5
// of docs/design.md). Needs neither root nor nft, except the one test that has nft parse
// every golden ruleset in a throwaway namespace (skipped, with a message, without them).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCidr } from '../runtime/firewall/addresses.js';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FERRY = path.join(PROJECT_DIR, 'bin/ferry.js');
const EXAMPLE_RULES = path.join(PROJECT_DIR, 'rules');
const GOLDEN_DIR = path.join(PROJECT_DIR, 'test/golden/firewall');
const UPDATE_GOLDEN = process.env.FERRY_UPDATE_GOLDEN === '1';
// A plan is a pure computation; a command slower than this is hung.
const COMMAND_TIMEOUT_MS = 30_000;

const dirs: string[] = [];

test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

// The example rules with the case's files laid over them.
function rulesWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-fw-'));
  dirs.push(dir);
  fs.cpSync(EXAMPLE_RULES, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

function caseFiles(name: string): Record<string, string> {
  const dir = path.join(GOLDEN_DIR, name);
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(dir)) if (f !== 'plan.nft') files[f] = fs.readFileSync(path.join(dir, f), 'utf8');
  return files;
}

function ferry(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FERRY, ...args], { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function lineOf(text: string, needle: string | RegExp): number {
  const index = text.split('\n').findIndex((l) => (typeof needle === 'string' ? l.includes(needle) : needle.test(l)));
  assert.ok(index >= 0, `"${needle}" is in the file`);
  return index + 1;
}

const GOLDEN_CASES = ['small', 'ipv6', 'several-servers', 'no-management', 'ntp', 'ha', 'ha-nic'];

for (const name of GOLDEN_CASES) {
  test(`firewall plan prints the golden ruleset for the ${name} policy`, async () => {
    const dir = rulesWith(caseFiles(name));
    const { code, stdout, stderr } = await ferry(['firewall', 'plan', '--rules', dir]);
    assert.is(code, 0, stderr);
    const golden = path.join(GOLDEN_DIR, name, 'plan.nft');
    if (UPDATE_GOLDEN) fs.writeFileSync(golden, stdout);
    assert.fixture(stdout, fs.readFileSync(golden, 'utf8'));
  });
}

test('the golden rulesets differ where their policies differ', () => {
  const plans = GOLDEN_CASES.map((n) => fs.readFileSync(path.join(GOLDEN_DIR, n, 'plan.nft'), 'utf8'));
  assert.is(new Set(plans).size, plans.length);
  const small = plans[0]!;
  assert.match(small, /iifname "eth2" jump management_in/);
  assert.match(small, /ip saddr 192\.168\.77\.0\/24 tcp dport 22 accept/);
  const noManagement = plans[3]!;
  assert.not.match(noManagement, /management/);
  // Ports taken from that case's gateway.yaml: MQTT plain and TLS, notify, payment.url's port.
  assert.match(noManagement, /tcp dport \{ 1884, 8884 \} accept/);
  assert.match(noManagement, /tcp dport 8481 accept/);
  assert.match(noManagement, /ip daddr 203\.0\.113\.10 tcp dport 9443 accept/);
});

test('NTP is allowed out on UDP 123 to exactly the listed time servers, each on its own NIC, and nowhere without a list', () => {
  const udpRules = (name: string) => fs.readFileSync(path.join(GOLDEN_DIR, name, 'plan.nft'), 'utf8').split('\n').filter((l) => /\budp\b/.test(l)).map((l) => l.trim());
  assert.equal(udpRules('ntp'), [
    'oifname "eth0" ip daddr 10.20.0.123 udp dport 123 accept',
    'oifname "eth1" ip daddr { 203.0.113.123, 203.0.113.124 } udp dport 123 accept',
    'oifname "eth1" ip6 daddr 2001:db8:1::123 udp dport 123 accept',
    'oifname "eth2" ip daddr 192.168.77.1 udp dport 123 accept',
  ]);
  // The answers come back through input's `ct state established`; nothing opens UDP inbound.
  const ntpPlan = fs.readFileSync(path.join(GOLDEN_DIR, 'ntp', 'plan.nft'), 'utf8');
  assert.not.match(ntpPlan.slice(0, ntpPlan.indexOf('chain output')), /udp/);
  for (const name of GOLDEN_CASES.filter((n) => n !== 'ntp')) assert.equal(udpRules(name), [], name);
});

test('a box of a pair may reach exactly its PostgreSQL endpoints and its VRRP peer, on the HA NIC or else the medical one, and nothing more', () => {
  const lines = (name: string) => fs.readFileSync(path.join(GOLDEN_DIR, name, 'plan.nft'), 'utf8').split('\n').map((l) => l.trim());
  const pairRules = (name: string) => lines(name).filter((l) => /dport (5432|6432)|l4proto 112|ha_in|ha_dropped/.test(l));
  assert.equal(pairRules('ha'), [
    'ip saddr 10.20.0.12 meta l4proto 112 accept',
    'oifname "eth0" ip daddr { 10.20.5.10, 10.20.5.11 } tcp dport 5432 accept',
    'oifname "eth0" ip daddr 10.20.5.12 tcp dport 6432 accept',
    'oifname "eth0" ip daddr 10.20.0.12 meta l4proto 112 accept',
  ]);
  // The VRRP rule in medical_in comes before its drop; nothing opens the database port inbound.
  const medicalIn = lines('ha').slice(lines('ha').indexOf('chain medical_in {'));
  assert.ok(medicalIn.indexOf('ip saddr 10.20.0.12 meta l4proto 112 accept') < medicalIn.indexOf('counter name "medical_dropped" drop'));
  assert.equal(pairRules('ha-nic'), [
    'counter ha_dropped {}',
    'iifname "eth3" jump ha_in',
    'chain ha_in {',
    'ip saddr 192.168.90.2 meta l4proto 112 accept',
    'counter name "ha_dropped" drop',
    'oifname "eth3" ip daddr 192.168.90.10 tcp dport 5432 accept',
    'oifname "eth3" ip6 daddr fd00:90::10 tcp dport 5432 accept',
    'oifname "eth3" ip daddr 192.168.90.2 meta l4proto 112 accept',
  ]);
  for (const name of GOLDEN_CASES.filter((n) => !n.startsWith('ha'))) assert.equal(pairRules(name), [], name);
});

test('every ruleset replaces only table inet ferry, atomically, and never flushes the whole ruleset', () => {
  for (const name of GOLDEN_CASES) {
    const plan = fs.readFileSync(path.join(GOLDEN_DIR, name, 'plan.nft'), 'utf8');
    const commands = plan.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('\t') && l !== '}');
    assert.equal(commands, ['table inet ferry {}', 'delete table inet ferry', 'table inet ferry {'], name);
    assert.not.match(plan, /flush ruleset/);
    for (const chain of ['input', 'output', 'forward']) {
      assert.match(plan, new RegExp(`chain ${chain} \\{\\n\\t\\ttype filter hook ${chain} priority filter; policy drop;`), `${name}: ${chain}`);
    }
    // Every drop is counted: no bare `drop`, and the last rule of every chain is a counted drop.
    for (const line of plan.split('\n').filter((l) => /\bdrop$/.test(l) && !l.includes('policy drop'))) {
      assert.match(line, /counter name "[a-z_]+" drop$/, `${name}: ${line}`);
    }
    assert.match(plan, /chain forward \{\n[^\n]+\n\t\tcounter name "forward_dropped" drop\n\t\}/, `${name}: forward drops everything`);
  }
});

test('the example firewall.yaml plans, and ferry rules check checks it', async () => {
  const plan = await ferry(['firewall', 'plan', '--rules', EXAMPLE_RULES]);
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /table inet ferry \{/);
  const text = fs.readFileSync(path.join(EXAMPLE_RULES, 'firewall.yaml'), 'utf8');
  const dir = rulesWith({ 'firewall.yaml': text.replace('    - 10.20.0.0/16', '    - 10.20.0.0/61') });
  const check = await ferry(['rules', 'check', dir]);
  assert.is(check.code, 1);
  assert.ok(check.stderr.includes(`${path.join(dir, 'firewall.yaml')}:${lineOf(text, '10.20.0.0/16')}:`), check.stderr);
});

const SMALL = fs.readFileSync(path.join(GOLDEN_DIR, 'small', 'firewall.yaml'), 'utf8');

const BAD_POLICIES: { what: string; change: (t: string) => string; needle: string | RegExp; message: RegExp }[] = [
  { what: 'a prefix longer than the address', change: (t) => t.replace('[10.20.0.0/16]', '[10.20.0.0/33]'), needle: '10.20.0.0/33', message: /bad prefix length/ },
  { what: 'host bits set under the prefix', change: (t) => t.replace('[10.20.0.0/16]', '[10.20.0.1/16]'), needle: '10.20.0.1/16', message: /host bits set.*10\.20\.0\.0\/16/ },
  { what: 'an address that is no address', change: (t) => t.replace('[203.0.113.10]', '[pay.example.cn]'), needle: 'pay.example.cn', message: /not an IPv4 or IPv6 address/ },
  { what: 'overlapping subnets', change: (t) => t.replace('[10.20.0.0/16]', '[10.20.0.0/16, 10.20.5.0/24]'), needle: '10.20.5.0/24', message: /overlaps medical\.subnets\[0\]/ },
  { what: 'an unknown key', change: (t) => t.replace('  port: 443', '  port: 443\n  timeout: 5'), needle: 'timeout: 5', message: /payment\.timeout: unknown key/ },
  { what: 'a misspelt section', change: (t) => t.replace('management:\n  sources', 'managment:\n  sources'), needle: 'managment:', message: /unknown key/ },
  { what: 'a port out of range', change: (t) => t.replace('  port: 443', '  port: 70000'), needle: 'port: 70000', message: /payment\.port: must be <= 65535/ },
  { what: 'port 0', change: (t) => t.replace('  port: 443', '  port: 0'), needle: 'port: 0', message: /must be >= 1/ },
  { what: 'no payment port while gateway.yaml has no payment url', change: (t) => t.replace('  port: 443\n', ''), needle: /^payment:/, message: /missing key "port"/ },
  { what: 'one NIC for two sides', change: (t) => t.replace('payment: eth1', 'payment: eth0'), needle: 'payment: eth0', message: /already the medical interface/ },
  { what: 'an interface name nft cannot take', change: (t) => t.replace('medical: eth0', 'medical: "eth0 accept"'), needle: 'eth0 accept', message: /must match pattern/ },
  { what: 'a time server given as a prefix', change: (t) => `${t}ntp:\n  - { address: 203.0.113.0/24, interface: payment }\n`, needle: '203.0.113.0/24', message: /is a prefix; name each time server by its address/ },
  { what: 'a time server that is no address', change: (t) => `${t}ntp:\n  - { address: pool.ntp.org, interface: payment }\n`, needle: 'pool.ntp.org', message: /not an IPv4 or IPv6 address/ },
  { what: 'a time server listed twice', change: (t) => `${t}ntp:\n  - { address: 203.0.113.123, interface: payment }\n  - { address: 203.0.113.123, interface: medical }\n`, needle: /203\.0\.113\.123, interface: medical/, message: /already ntp\[0\]/ },
  { what: 'a time server on an interface that is not a side', change: (t) => `${t}ntp:\n  - { address: 203.0.113.123, interface: eth1 }\n`, needle: 'interface: eth1 }', message: /ntp\[0\]\.interface: must be one of: "medical", "payment", "management"/ },
  { what: 'a time server on the management NIC of a box without one', change: (t) => `${t.replace('management: eth2', 'management: null').replace(/management:\n  sources: .*\n/, '')}ntp:\n  - { address: 192.168.77.1, interface: management }\n`, needle: '192.168.77.1', message: /`interfaces\.management` is not set/ },
  { what: 'a PostgreSQL endpoint given as a prefix', change: (t) => `${t}ha:\n  postgres:\n    - { address: 10.20.5.0/24 }\n`, needle: '10.20.5.0/24', message: /is a prefix; name each PostgreSQL server by its address/ },
  { what: 'a PostgreSQL endpoint listed twice', change: (t) => `${t}ha:\n  postgres:\n    - { address: 10.20.5.10 }\n    - { address: 10.20.5.10, port: 5432 }\n`, needle: /10\.20\.5\.10, port: 5432/, message: /already ha\.postgres\[0\]/ },
  { what: 'a VRRP peer given as a prefix', change: (t) => `${t}ha:\n  postgres:\n    - { address: 10.20.5.10 }\n  vrrpPeer: 10.20.0.0/24\n`, needle: 'vrrpPeer', message: /name the other box by its address/ },
  { what: 'an HA interface without the ha section', change: (t) => t.replace('  management: eth2', '  management: eth2\n  ha: eth3'), needle: 'ha: eth3', message: /needs an `ha:` section/ },
  { what: 'an HA interface that is already a side', change: (t) => `${t.replace('  management: eth2', '  management: eth2\n  ha: eth0')}ha:\n  postgres:\n    - { address: 10.20.5.10 }\n`, needle: 'ha: eth0', message: /already the medical interface/ },
  { what: 'a management interface without sources', change: (t) => t.replace(/management:\n  sources: .*\n/, ''), needle: 'management: eth2', message: /needs a `management:` section/ },
];

for (const bad of BAD_POLICIES) {
  test(`firewall plan refuses ${bad.what} with file:line and prints no ruleset`, async () => {
    const text = bad.change(SMALL);
    assert.is.not(text, SMALL, 'the edit changed the policy');
    const dir = rulesWith({ 'firewall.yaml': text });
    const { code, stdout, stderr } = await ferry(['firewall', 'plan', '--rules', dir]);
    assert.is(code, 1);
    assert.is(stdout, '');
    const where = `${path.join(dir, 'firewall.yaml')}:${lineOf(text, bad.needle)}:`;
    const line = stderr.split('\n').find((l) => l.startsWith(where));
    assert.ok(line, `expected a problem at ${where}; got\n${stderr}`);
    assert.match(line!, bad.message);
  });
}

test('a missing firewall.yaml is a problem for the firewall commands but not for the gateway', async () => {
  const dir = rulesWith({});
  fs.rmSync(path.join(dir, 'firewall.yaml'));
  const plan = await ferry(['firewall', 'plan', '--rules', dir]);
  assert.is(plan.code, 1);
  assert.match(plan.stderr, /firewall\.yaml:0:0: file not found/);
  const check = await ferry(['rules', 'check', dir]);
  assert.is(check.code, 0, check.stderr);
});

test('firewall plan takes no --netns, and apply checks the namespace name, before touching anything', async () => {
  const plan = await ferry(['firewall', 'plan', '--netns', 'x']);
  assert.is(plan.code, 2);
  const apply = await ferry(['firewall', 'apply', '--netns', '../../etc', '--rules', EXAMPLE_RULES]);
  assert.is(apply.code, 2);
  assert.match(apply.stderr, /not a namespace name/);
});

test('addresses are normalised the way nft prints them, and host bits are refused', () => {
  const text = (s: string) => {
    const c = parseCidr(s);
    return typeof c === 'string' ? c : c.text;
  };
  assert.is(text('2001:db8:aa:0:0:0:0:0/64'), '2001:db8:aa::/64');
  assert.is(text('2001:0db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.is(text('fd00::/8'), 'fd00::/8');
  assert.is(text('10.0.0.0/8'), '10.0.0.0/8');
  assert.is(text('203.0.113.10/32'), '203.0.113.10');
  assert.is(text('::ffff:10.0.0.0/120'), '::ffff:a00:0/120');
  assert.match(text('fd00::1/8'), /host bits set under \/8; the network is fd00::\/8/);
  assert.match(text('10.0.0.0/'), /bad prefix length/);
});

const canUseNft = process.getuid?.() === 0 && spawnSync('nft', ['--version']).status === 0 && spawnSync('unshare', ['--version']).status === 0;

test('nft accepts every golden ruleset (loaded in a throwaway network namespace)', () => {
  if (!canUseNft) {
    console.log('SKIP nft accepts every golden ruleset: needs root, nft and unshare');
    return;
  }
  for (const name of GOLDEN_CASES) {
    const plan = fs.readFileSync(path.join(GOLDEN_DIR, name, 'plan.nft'), 'utf8');
    // Loaded twice: the second load replaces the first, as a re-apply on a live host does.
    const twice = spawnSync('unshare', ['--net', 'sh', '-c', 'nft -f "$0" && nft -f "$0" && nft list tables', writeTemp(plan)], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
    assert.is(twice.status, 0, `${name}: ${twice.stderr}`);
    assert.is(twice.stdout.trim(), 'table inet ferry');
  }
});

function writeTemp(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-fw-nft-'));
  dirs.push(dir);
  const file = path.join(dir, 'plan.nft');
  fs.writeFileSync(file, text);
  return file;
}

test.run();
