// The firewall on a real kernel, in network namespaces that this test creates and
// removes: a medical host, the gateway (one veth toward each side) and a payment host.
// The generated ruleset is applied in the gateway's namespace with `ferry firewall apply
// --netns`, the gateway runs there as its two real processes, the payment simulator runs
// on the payment host, and the device simulators on the medical host. Then: a bill is
// paid end to end through the gateway; nothing else gets through; forwarding is off;
// the drop counters count what was refused. Needs root, `nft`, `ip` and `unshare`;
// without them every test here is skipped with a message saying so.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const PROJECT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FERRY = path.join(PROJECT_DIR, 'bin/ferry.js');
const INNER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/inner/main.js');
const OUTER_MAIN = path.join(PROJECT_DIR, 'dist/runtime/outer/main.js');
const EXAMPLE_RULES = path.join(PROJECT_DIR, 'rules');

// Named limits. A command that takes longer is hung; a probe that gets no answer in
// PROBE_WAIT_MS had its SYN dropped (the kernel retransmits once within it).
const COMMAND_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const PROBE_WAIT_MS = 2_000;
const OUTPUT_BYTES_MAX = 1024 * 1024;

function missingTools(): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const tool of ['nft', 'ip', 'unshare']) {
    if (spawnSync(tool, tool === 'ip' ? ['-V'] : ['--version']).status !== 0) return `\`${tool}\` is not installed`;
  }
  return null;
}

const skip = missingTools();

// Unique per run, so that two runs (or a leftover of a killed one) never collide.
const PID = process.pid;
// db: the PostgreSQL server of a pair, behind the gateway's HA NIC (docs/ha.md).
const NS = { med: `ferry-t${PID}-med`, gw: `ferry-t${PID}-gw`, pay: `ferry-t${PID}-pay`, db: `ferry-t${PID}-db`, fw: `ferry-t${PID}-fw`, m: `ferry-t${PID}-m`, p: `ferry-t${PID}-p` };
const X = PID % 250;
const ADDR = { gwMed: `10.200.${X}.1`, med: `10.200.${X}.2`, gwPay: `10.201.${X}.1`, pay: `10.201.${X}.2`, gwHa: `10.203.${X}.1`, db: `10.203.${X}.2`, peer: `10.203.${X}.3` };
const PORTS = { mqtt: 1883, notify: 8480, payment: 8490, postgres: 5432 };
const ROOT_VETH = { med: `ftm${PID}`, pay: `ftp${PID}`, ha: `fth${PID}`, haPeer: `ftq${PID}` };
const SECRET = /^\s*secret:\s*(\S+)/m.exec(fs.readFileSync(path.join(EXAMPLE_RULES, 'gateway.yaml'), 'utf8'))![1]!;

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-netns-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

interface Result { code: number | null; stdout: string; stderr: string }

// Runs a command to its end; one that hangs is killed and reported.
function exec(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${COMMAND_TIMEOUT_MS} ms]`;
      child.kill('SIGKILL');
    }, COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => { if (stdout.length < OUTPUT_BYTES_MAX) stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { if (stderr.length < OUTPUT_BYTES_MAX) stderr += c.toString(); });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await exec(argv, env);
  assert.is(r.code, 0, `${argv.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const inNs = (ns: string, argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
const ferry = (args: string[]) => [process.execPath, FERRY, ...args];

// A long-running process; stderr is kept for the failure message.
function start(argv: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; err: () => string; out: () => string } {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { if (out.length < OUTPUT_BYTES_MAX) out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { if (err.length < OUTPUT_BYTES_MAX) err += c.toString(); });
  return { child, err: () => err, out: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

let probeScript = '';
let udpProbeScript = '';
let udpEchoScript = '';
let tcpListenScript = '';

// One UDP datagram from inside a namespace: `answered` or `timeout` (dropped).
async function probeUdp(ns: string, host: string, port: number): Promise<string> {
  const r = await exec(inNs(ns, [process.execPath, udpProbeScript, host, String(port), String(PROBE_WAIT_MS)]));
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trim();
}

// A TCP connect from inside a namespace: `connected`, `timeout` (no answer: dropped),
// or the error code (ECONNREFUSED, EHOSTUNREACH, ...).
async function probe(ns: string, host: string, port: number): Promise<string> {
  const r = await exec(inNs(ns, [process.execPath, probeScript, host, String(port), String(PROBE_WAIT_MS)]));
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function counters(ns: string): Promise<Map<string, number>> {
  const json = JSON.parse(await must(inNs(ns, ['nft', '-j', 'list', 'counters', 'table', 'inet', 'ferry']))) as { nftables: { counter?: { name: string; packets: number } }[] };
  return new Map(json.nftables.filter((o) => o.counter).map((o) => [o.counter!.name, o.counter!.packets]));
}

async function namespaces(): Promise<Set<string>> {
  const r = await exec(['ip', 'netns', 'list']);
  return new Set(r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== ''));
}

function firewallYaml(): string {
  return [
    'interfaces:',
    '  medical: med0',
    '  payment: pay0',
    '  management: null',
    '  ha: ha0',
    'medical:',
    `  subnets: [10.200.${X}.0/24]`,
    'payment:',
    `  servers: [${ADDR.pay}]`,
    `  port: ${PORTS.payment}`,
    // The payment host stands in for the provider's time server too.
    'ntp:',
    `  - { address: ${ADDR.pay}, interface: payment }`,
    // This box is one of a pair: its database, and the other box for keepalived.
    'ha:',
    '  postgres:',
    `    - { address: ${ADDR.db}, port: ${PORTS.postgres} }`,
    `  vrrpPeer: ${ADDR.peer}`,
    '',
  ].join('\n');
}

function rulesDir(firewall: string): string {
  const dir = tempDir('rules');
  fs.cpSync(EXAMPLE_RULES, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'firewall.yaml'), firewall);
  return dir;
}

if (skip) {
  test('the namespace tests are skipped', () => {
    console.log(`\n  SKIP netns.test: ${skip}. These tests need root, nft (nftables), ip (iproute2) and unshare; .ci/run installs them.`);
  });
} else {
  let rules = '';

  test.before(async () => {
    const dir = tempDir('probe');
    probeScript = path.join(dir, 'probe.mjs');
    fs.writeFileSync(probeScript, [
      "import net from 'node:net';",
      'const [host, port, ms] = process.argv.slice(2);',
      'const socket = net.createConnection({ host, port: Number(port) });',
      "const timer = setTimeout(() => { console.log('timeout'); process.exit(0); }, Number(ms));",
      "socket.once('connect', () => { console.log('connected'); socket.destroy(); clearTimeout(timer); });",
      "socket.once('error', (err) => { console.log(err.code); clearTimeout(timer); });",
      '',
    ].join('\n'));
    udpProbeScript = path.join(dir, 'udp-probe.mjs');
    fs.writeFileSync(udpProbeScript, [
      "import dgram from 'node:dgram';",
      'const [host, port, ms] = process.argv.slice(2);',
      "const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');",
      "const timer = setTimeout(() => { console.log('timeout'); socket.close(); }, Number(ms));",
      "socket.once('message', () => { console.log('answered'); clearTimeout(timer); socket.close(); });",
      "socket.once('error', (err) => { console.log(err.code); clearTimeout(timer); socket.close(); });",
      "socket.send('ferry-time?', Number(port), host);",
      '',
    ].join('\n'));
    // Answers every datagram: a stand-in for a time server (the firewall does not look inside).
    udpEchoScript = path.join(dir, 'udp-echo.mjs');
    fs.writeFileSync(udpEchoScript, [
      "import dgram from 'node:dgram';",
      "const socket = dgram.createSocket('udp4');",
      "socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));",
      "socket.bind(Number(process.argv[2]), () => console.log('listening'));",
      "process.on('SIGTERM', () => socket.close());",
      '',
    ].join('\n'));
    // Accepts TCP connections on the ports given: a stand-in for a database server (the
    // firewall does not look past the handshake).
    tcpListenScript = path.join(dir, 'tcp-listen.mjs');
    fs.writeFileSync(tcpListenScript, [
      "import net from 'node:net';",
      'const [host, ...ports] = process.argv.slice(2);',
      'const servers = ports.map((p) => net.createServer((s) => s.destroy()).listen(Number(p), host));',
      "Promise.all(servers.map((s) => new Promise((r) => s.once('listening', r)))).then(() => console.log('listening'));",
      "process.on('SIGTERM', () => servers.forEach((s) => s.close()));",
      '',
    ].join('\n'));
    for (const ns of [NS.med, NS.gw, NS.pay, NS.db]) {
      await must(['ip', 'netns', 'add', ns]);
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must(['ip', '-n', NS.gw, 'link', 'add', 'med0', 'type', 'veth', 'peer', 'name', 'host0', 'netns', NS.med]);
    await must(['ip', '-n', NS.gw, 'link', 'add', 'pay0', 'type', 'veth', 'peer', 'name', 'host0', 'netns', NS.pay]);
    await must(['ip', '-n', NS.gw, 'link', 'add', 'ha0', 'type', 'veth', 'peer', 'name', 'host0', 'netns', NS.db]);
    const addrs: [string, string, string][] = [
      [NS.gw, 'med0', ADDR.gwMed], [NS.gw, 'pay0', ADDR.gwPay], [NS.gw, 'ha0', ADDR.gwHa],
      [NS.med, 'host0', ADDR.med], [NS.pay, 'host0', ADDR.pay], [NS.db, 'host0', ADDR.db],
    ];
    for (const [ns, dev, addr] of addrs) {
      await must(['ip', '-n', ns, 'address', 'add', `${addr}/24`, 'dev', dev]);
      await must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    // Each host routes everything through the gateway, so that only the gateway can
    // stop a packet bound for the other network.
    await must(['ip', '-n', NS.med, 'route', 'add', 'default', 'via', ADDR.gwMed]);
    await must(['ip', '-n', NS.pay, 'route', 'add', 'default', 'via', ADDR.gwPay]);
    await must(['ip', '-n', NS.db, 'route', 'add', 'default', 'via', ADDR.gwHa]);
    rules = rulesDir(firewallYaml());
  });

  test.after(async () => {
    await Promise.all([...children].map((c) => stop(c)));
    for (const ns of Object.values(NS)) {
      if (!(await namespaces()).has(ns)) continue;
      // Only processes this test started can be in its own uniquely named namespaces.
      const pids = (await exec(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter((p) => /^\d+$/.test(p.trim()));
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exec(['ip', 'netns', 'del', ns]);
    }
    for (const dev of Object.values(ROOT_VETH)) {
      if ((await exec(['ip', 'link', 'show', 'dev', dev])).code === 0) await exec(['ip', 'link', 'del', 'dev', dev]);
    }
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('firewall apply --netns loads the ruleset in the gateway namespace and reads it back as planned', async () => {
    const out = await must(ferry(['firewall', 'apply', '--netns', NS.gw, '--rules', rules]));
    assert.match(out, /as planned/);
    assert.match(out, new RegExp(`firewall applied in network namespace ${NS.gw}`));
    const tables = await must(inNs(NS.gw, ['nft', 'list', 'tables']));
    assert.is(tables.trim(), 'table inet ferry');
  });

  test('a kiosk on the medical host pays a bill through the gateway to the payment server on the payment host', async () => {
    const data = tempDir('data');
    const sim = start(inNs(NS.pay, ferry([
      'sim', 'payment-server', '--host', ADDR.pay, '--port', String(PORTS.payment), '--qr-delay-ms', '200',
      '--notify-url', `http://${ADDR.gwPay}:${PORTS.notify}/v1/notifications`,
    ])), { FERRY_SIM_SECRET: SECRET });
    await waitFor(async () => sim.out().includes('listening'), START_TIMEOUT_MS, `the payment simulator (${sim.err()})`);
    const args = [
      '--rules', rules, '--data', data,
      '--mqtt-host', ADDR.gwMed, '--mqtt-port', String(PORTS.mqtt),
      '--notify-host', ADDR.gwPay, '--notify-port', String(PORTS.notify),
      '--payment-url', `http://${ADDR.pay}:${PORTS.payment}`, '--reply-wait-ms', '1500', '--log-level', process.env.FERRY_TEST_LOG ?? 'warn',
    ];
    const inner = start(inNs(NS.gw, [process.execPath, INNER_MAIN, ...args]));
    await waitFor(async () => (await probe(NS.gw, ADDR.gwMed, PORTS.mqtt)) === 'connected', START_TIMEOUT_MS, `the inner side (${inner.err()})`);
    const outer = start(inNs(NS.gw, [process.execPath, OUTER_MAIN, ...args]));
    await waitFor(async () => (await probe(NS.gw, ADDR.gwPay, PORTS.notify)) === 'connected', START_TIMEOUT_MS, `the outer side (${outer.err()})`);

    const url = `mqtt://${ADDR.gwMed}:${PORTS.mqtt}`;
    await must(inNs(NS.med, ferry(['sim', 'billing-desk', 'create-bill', '--patient', 'P-NS-1', '--reference', `INV-NS-${PID}-1`, '--item', 'LAB-001:Blood-test:1:3500', '--url', url])));
    const paid = await must(inNs(NS.med, ferry(['sim', 'kiosk', 'pay-bill', '--patient', 'P-NS-1', '--method', 'code', '--url', url])));
    assert.match(paid, /succeeded/);
    // Scan-to-pay ends with the payment server's signed notification, which must get
    // through the payment NIC's filter to the outer side.
    await must(inNs(NS.med, ferry(['sim', 'billing-desk', 'create-bill', '--patient', 'P-NS-2', '--reference', `INV-NS-${PID}-2`, '--item', 'MED-104:Amoxicillin:2:1850', '--url', url])));
    const qr = await must(inNs(NS.med, ferry(['sim', 'kiosk', 'pay-bill', '--patient', 'P-NS-2', '--method', 'qr', '--url', url])));
    assert.match(qr, /succeeded/);
  });

  test('from the medical host, nothing but MQTT reaches the gateway, and the payment server is unreachable', async () => {
    const before = await counters(NS.gw);
    assert.is(await probe(NS.med, ADDR.gwMed, PORTS.mqtt), 'connected', 'the MQTT port is open to the medical subnet');
    assert.is.not(await probe(NS.med, ADDR.pay, PORTS.payment), 'connected', 'the payment server from the medical host');
    // The notify endpoint listens on the gateway's payment address, which the medical
    // host can name: only the firewall stands in the way.
    assert.is.not(await probe(NS.med, ADDR.gwPay, PORTS.notify), 'connected', 'the notify port from the medical host');
    assert.is.not(await probe(NS.med, ADDR.gwMed, PORTS.notify), 'connected');
    assert.is.not(await probe(NS.med, ADDR.gwMed, 22), 'connected', 'ssh from the medical host');
    const after = await counters(NS.gw);
    assert.ok(after.get('medical_dropped')! > before.get('medical_dropped')!, `medical_dropped grew: ${before.get('medical_dropped')} -> ${after.get('medical_dropped')}`);
  });

  test('from the payment host, only the notify port reaches the gateway', async () => {
    const before = await counters(NS.gw);
    assert.is(await probe(NS.pay, ADDR.gwPay, PORTS.notify), 'connected', 'the notify port is open to the payment server');
    assert.is.not(await probe(NS.pay, ADDR.gwMed, PORTS.mqtt), 'connected', 'the MQTT port from the payment host');
    assert.is.not(await probe(NS.pay, ADDR.med, PORTS.mqtt), 'connected', 'a medical host from the payment host');
    const after = await counters(NS.gw);
    assert.ok(after.get('payment_dropped')! > before.get('payment_dropped')!, `payment_dropped grew: ${before.get('payment_dropped')} -> ${after.get('payment_dropped')}`);
  });

  test('the gateway reaches the listed time server on UDP 123 and nothing else over UDP: another port, another host', async () => {
    const echoes = [start(inNs(NS.pay, [process.execPath, udpEchoScript, '123'])), start(inNs(NS.pay, [process.execPath, udpEchoScript, '124'])), start(inNs(NS.med, [process.execPath, udpEchoScript, '123']))];
    try {
      for (const e of echoes) await waitFor(async () => e.out().includes('listening'), START_TIMEOUT_MS, `a UDP responder (${e.err()})`);
      // The responders answer anyone: from the hosts themselves they are reachable.
      assert.is(await probeUdp(NS.pay, ADDR.pay, 124), 'answered', 'the responder on the payment host works');
      assert.is(await probeUdp(NS.med, ADDR.med, 123), 'answered', 'the responder on the medical host works');
      const before = await counters(NS.gw);
      assert.is(await probeUdp(NS.gw, ADDR.pay, 123), 'answered', 'NTP to the listed server, answer back through ct state established');
      assert.is(await probeUdp(NS.gw, ADDR.pay, 124), 'timeout', 'another UDP port of the time server');
      assert.is(await probeUdp(NS.gw, ADDR.med, 123), 'timeout', 'NTP to an address that is not listed');
      const after = await counters(NS.gw);
      assert.ok(after.get('output_dropped')! >= before.get('output_dropped')! + 2, `output_dropped grew: ${before.get('output_dropped')} -> ${after.get('output_dropped')}`);
    } finally {
      await Promise.all(echoes.map((e) => stop(e.child)));
    }
  });

  test('a box of a pair reaches its PostgreSQL endpoint through the HA NIC and no database port anywhere else; the payment side still reaches only the payment server', async () => {
    const listeners = [
      start(inNs(NS.db, [process.execPath, tcpListenScript, ADDR.db, String(PORTS.postgres), '5433', '22'])),
      start(inNs(NS.pay, [process.execPath, tcpListenScript, ADDR.pay, String(PORTS.postgres), '22'])),
      start(inNs(NS.med, [process.execPath, tcpListenScript, ADDR.med, String(PORTS.postgres)])),
    ];
    try {
      for (const l of listeners) await waitFor(async () => l.out().includes('listening'), START_TIMEOUT_MS, `a TCP listener (${l.err()})`);
      assert.is(await probe(NS.db, ADDR.db, 5433), 'connected', 'the listeners answer anyone on their own host');
      const before = await counters(NS.gw);
      assert.is(await probe(NS.gw, ADDR.db, PORTS.postgres), 'connected', 'the inner side reaches the PostgreSQL endpoint');
      assert.is.not(await probe(NS.gw, ADDR.db, 5433), 'connected', 'another port of the database host');
      assert.is.not(await probe(NS.gw, ADDR.db, 22), 'connected', 'ssh on the database host');
      assert.is.not(await probe(NS.gw, ADDR.pay, PORTS.postgres), 'connected', 'a database port on the payment side');
      assert.is.not(await probe(NS.gw, ADDR.pay, 22), 'connected', 'anything but the payment server on the payment side');
      assert.is.not(await probe(NS.gw, ADDR.med, PORTS.postgres), 'connected', 'a database port on the medical network, which is not listed');
      const afterOut = await counters(NS.gw);
      assert.ok(afterOut.get('output_dropped')! >= before.get('output_dropped')! + 5, `output_dropped grew: ${before.get('output_dropped')} -> ${afterOut.get('output_dropped')}`);
      // Inbound on the HA NIC only the peer's VRRP is let in: no MQTT, no SSH, and no
      // path through the gateway to either network.
      assert.is.not(await probe(NS.db, ADDR.gwHa, PORTS.mqtt), 'connected', 'MQTT from the HA network');
      assert.is.not(await probe(NS.db, ADDR.gwMed, PORTS.mqtt), 'connected', 'the medical address from the HA network');
      assert.is.not(await probe(NS.db, ADDR.pay, PORTS.payment), 'connected', 'the payment server from the HA network');
      assert.is.not(await probe(NS.pay, ADDR.db, PORTS.postgres), 'connected', 'the database from the payment host');
      assert.is.not(await probe(NS.med, ADDR.db, PORTS.postgres), 'connected', 'the database from the medical host');
      const afterIn = await counters(NS.gw);
      assert.ok(afterIn.get('ha_dropped')! > before.get('ha_dropped')!, `ha_dropped grew: ${before.get('ha_dropped')} -> ${afterIn.get('ha_dropped')}`);
    } finally {
      await Promise.all(listeners.map((l) => stop(l.child)));
    }
  });

  test('firewall verify --netns finds forwarding off and the table unchanged in the gateway namespace', async () => {
    assert.equal((await must(inNs(NS.gw, ['cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding']))).split('\n').filter(Boolean), ['0', '0']);
    const out = await must(ferry(['firewall', 'verify', '--netns', NS.gw, '--rules', rules]));
    assert.match(out, /ok: net\.ipv4\.ip_forward = 0/);
    assert.match(out, /ok: net\.ipv6\.conf\.all\.forwarding = 0/);
    assert.match(out, /as planned/);
  });

  test('apply replaces only table inet ferry: another table survives, and a second apply changes nothing', async () => {
    await must(['ip', 'netns', 'add', NS.fw]);
    await must(inNs(NS.fw, ['nft', 'add', 'table', 'inet', 'other']));
    await must(inNs(NS.fw, ['nft', 'add', 'chain', 'inet', 'other', 'keep', '{ type filter hook input priority 10; policy accept; }']));
    await must(ferry(['firewall', 'apply', '--netns', NS.fw, '--rules', rules]));
    const first = await must(inNs(NS.fw, ['nft', 'list', 'ruleset']));
    await must(ferry(['firewall', 'apply', '--netns', NS.fw, '--rules', rules]));
    const second = await must(inNs(NS.fw, ['nft', 'list', 'ruleset']));
    assert.match(second, /table inet other \{\n\tchain keep \{/);
    assert.fixture(second, first);
  });

  test('verify reports a rule added by hand, a chain policy changed and forwarding switched on; apply restores the plan', async () => {
    await must(inNs(NS.fw, ['nft', 'add', 'rule', 'inet', 'ferry', 'medical_in', 'tcp', 'dport', '22', 'accept']));
    await must(inNs(NS.fw, ['nft', 'chain', 'inet', 'ferry', 'forward', '{ policy accept; }']));
    await must(inNs(NS.fw, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']));
    const bad = await exec(ferry(['firewall', 'verify', '--netns', NS.fw, '--rules', rules]));
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /FAIL: net\.ipv4\.ip_forward = 1/);
    assert.match(bad.stderr, /FAIL: chain forward: policy is "accept", planned "drop"/);
    assert.match(bad.stderr, /FAIL: chain medical_in, rule \d+: not in the plan/);
    await must(inNs(NS.fw, ['sh', '-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']));
    await must(ferry(['firewall', 'apply', '--netns', NS.fw, '--rules', rules]));
    await must(ferry(['firewall', 'verify', '--netns', NS.fw, '--rules', rules]));
  });

  test('a bad policy is refused with file:line by apply and changes nothing', async () => {
    const before = await must(inNs(NS.fw, ['nft', 'list', 'ruleset']));
    const bad = rulesDir(firewallYaml().replace(`10.200.${X}.0/24`, `10.200.${X}.0/99`));
    const r = await exec(ferry(['firewall', 'apply', '--netns', NS.fw, '--rules', bad]));
    assert.is(r.code, 1);
    const line = firewallYaml().split('\n').findIndex((l) => l.includes('subnets:')) + 1;
    assert.ok(r.stderr.includes(`${path.join(bad, 'firewall.yaml')}:${line}:`), r.stderr);
    assert.fixture(await must(inNs(NS.fw, ['nft', 'list', 'ruleset'])), before);
  });

  test('netns setup moves each NIC into its own namespace (a pair\'s HA NIC beside the medical one), a second run changes nothing, and teardown removes them', async () => {
    await must(['ip', 'link', 'add', ROOT_VETH.med, 'type', 'veth', 'peer', 'name', ROOT_VETH.pay]);
    await must(['ip', 'link', 'add', ROOT_VETH.ha, 'type', 'veth', 'peer', 'name', ROOT_VETH.haPeer]);
    const setup = ferry([
      'netns', 'setup', '--medical-if', ROOT_VETH.med, '--payment-if', ROOT_VETH.pay, '--medical-ns', NS.m, '--payment-ns', NS.p,
      '--medical-addr', `10.202.${X}.1/24`, '--payment-addr', `10.202.${X}.2/24`, '--ha-if', ROOT_VETH.ha, '--ha-addr', `10.204.${X}.1/24`,
    ]);
    await must(setup);
    const state = async () => [
      await must(['ip', '-n', NS.m, '-brief', 'address', 'show']),
      await must(['ip', '-n', NS.p, '-brief', 'address', 'show']),
    ].join('');
    const first = await state();
    assert.match(first, new RegExp(`${ROOT_VETH.med}@\\S+\\s+UP\\s+10\\.202\\.${X}\\.1/24`));
    assert.match(first, new RegExp(`${ROOT_VETH.pay}@\\S+\\s+UP\\s+10\\.202\\.${X}\\.2/24`));
    const medicalNs = await must(['ip', '-n', NS.m, '-brief', 'address', 'show']);
    assert.match(medicalNs, new RegExp(`${ROOT_VETH.ha}@\\S+\\s+\\S+\\s+10\\.204\\.${X}\\.1/24`), 'the HA NIC is in the medical namespace');
    assert.match(first, /^lo\s+UNKNOWN/m);
    assert.is.not((await exec(['ip', 'link', 'show', 'dev', ROOT_VETH.med])).code, 0, 'the NIC left the main namespace');
    await must(setup);
    assert.is(await state(), first);
    await must(ferry(['netns', 'teardown', '--medical-ns', NS.m, '--payment-ns', NS.p]));
    const left = await namespaces();
    assert.not.ok(left.has(NS.m) || left.has(NS.p));
  });
}

test.run();
