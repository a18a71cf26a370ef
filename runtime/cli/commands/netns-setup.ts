// `ferry netns setup` / `ferry netns teardown`: the production layout in which each
// gateway process sees one NIC. The inner process runs in the medical namespace (the
// medical NIC and loopback), the outer process in the payment namespace (the payment
// NIC and loopback); the channel socket lives on the filesystem, which both share. With
// no interface in common there is no IP path between the networks, even under a wrong
// firewall or with forwarding switched on. docs/firewall.md shows the systemd units.
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { run, firstLines } from '../../firewall/nft.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';

export const NETNS_DEFAULTS = Object.freeze({ medical: 'ferry-medical', payment: 'ferry-payment' });

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

const SETUP_HELP = `Usage: ferry netns setup --medical-if IF --payment-if IF [options]

Creates two network namespaces and moves one NIC into each:
  ${NETNS_DEFAULTS.medical.padEnd(14)} the medical NIC: the inner process (MQTT broker, store) runs here
  ${NETNS_DEFAULTS.payment.padEnd(14)} the payment NIC: the outer process (relay, notifications) runs here
Loopback is brought up in both. Moving a NIC drops its addresses, so give them here
(or configure them inside the namespace with \`ip -n NS ...\`). A default route inside a
namespace can only lead to that namespace's own network.

Safe to run again: what is already in place is left as it is.

Options:
  --medical-if IF        the medical-side NIC (required)
  --payment-if IF        the payment-side NIC (required)
  --medical-ns NAME      default ${NETNS_DEFAULTS.medical}
  --payment-ns NAME      default ${NETNS_DEFAULTS.payment}
  --medical-addr A/N     address and prefix of the medical NIC, e.g. 10.20.0.5/16
  --payment-addr A/N     address and prefix of the payment NIC
  --medical-gateway A    default route of the medical namespace
  --payment-gateway A    default route of the payment namespace
  --ha-if IF             a box of an active/standby pair with a NIC of its own for the
                         pair (its PostgreSQL and its peer; docs/ha.md): it goes into the
                         medical namespace too, beside the medical NIC, since only the
                         inner process talks to the database (firewall.yaml interfaces.ha)
  --ha-addr A/N          address and prefix of that NIC
  -h, --help             show this text

Then load the firewall in each namespace (ferry firewall apply --netns NAME), and run
the processes in them (systemd: NetworkNamespacePath=/run/netns/NAME; docs/firewall.md).

Exit status: 0 in place, 1 an ip command failed (its message on stderr), 2 usage.
`;

const TEARDOWN_HELP = `Usage: ferry netns teardown [--medical-ns NAME] [--payment-ns NAME]

Deletes the two namespaces made by \`ferry netns setup\`. Physical NICs return to the
main namespace without addresses (veth interfaces are destroyed with the namespace).
Refuses while a process still runs in one of them: stop ferry-inner and ferry-outer
first.

Exit status: 0 gone, 1 refused or an ip command failed, 2 usage.
`;

interface Side {
  ns: string;
  nic: string;
  addr?: string;
  gateway?: string;
}

export const command: Command = {
  name: 'netns setup',
  summary: 'create the medical and payment network namespaces and move a NIC into each',
  help: SETUP_HELP,
  async run(args: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args, strict: true, allowPositionals: false,
        options: {
          'medical-if': { type: 'string' }, 'payment-if': { type: 'string' },
          'medical-ns': { type: 'string', default: NETNS_DEFAULTS.medical }, 'payment-ns': { type: 'string', default: NETNS_DEFAULTS.payment },
          'medical-addr': { type: 'string' }, 'payment-addr': { type: 'string' },
          'medical-gateway': { type: 'string' }, 'payment-gateway': { type: 'string' },
          'ha-if': { type: 'string' }, 'ha-addr': { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }));
    } catch (err) {
      return usage(SETUP_HELP, (err as Error).message);
    }
    if (values.help) return help(SETUP_HELP);
    const sides: Side[] = [];
    for (const name of ['medical', 'payment'] as const) {
      const side = {
        ns: values[`${name}-ns`]!, nic: values[`${name}-if`],
        addr: values[`${name}-addr`], gateway: values[`${name}-gateway`],
      };
      const why = sideProblem(name, side);
      if (why) return usage(SETUP_HELP, why);
      sides.push({ ns: side.ns, nic: side.nic!, ...(side.addr ? { addr: side.addr } : {}), ...(side.gateway ? { gateway: side.gateway } : {}) });
    }
    if (sides[0]!.ns === sides[1]!.ns) return usage(SETUP_HELP, 'the two namespaces must differ');
    if (sides[0]!.nic === sides[1]!.nic) return usage(SETUP_HELP, 'the two NICs must differ');
    if (values['ha-addr'] !== undefined && values['ha-if'] === undefined) return usage(SETUP_HELP, '--ha-addr needs --ha-if');
    if (values['ha-if'] !== undefined) {
      const ha = { ns: sides[0]!.ns, nic: values['ha-if'], addr: values['ha-addr'], gateway: undefined };
      const why = sideProblem('ha', ha);
      if (why) return usage(SETUP_HELP, why);
      if (sides.some((s) => s.nic === ha.nic)) return usage(SETUP_HELP, '--ha-if must differ from the medical and the payment NIC');
      sides.push({ ns: ha.ns, nic: ha.nic, ...(ha.addr ? { addr: ha.addr } : {}) });
    }
    for (const side of sides) {
      const failed = await setUp(side);
      if (failed) {
        process.stderr.write(`netns setup: ${failed}\n`);
        return EXIT_FAILURE;
      }
    }
    return EXIT_OK;
  },
};

export const teardown: Command = {
  name: 'netns teardown',
  summary: 'delete the namespaces made by netns setup (their NICs return to the host)',
  help: TEARDOWN_HELP,
  async run(args: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args, strict: true, allowPositionals: false,
        options: {
          'medical-ns': { type: 'string', default: NETNS_DEFAULTS.medical }, 'payment-ns': { type: 'string', default: NETNS_DEFAULTS.payment },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }));
    } catch (err) {
      return usage(TEARDOWN_HELP, (err as Error).message);
    }
    if (values.help) return help(TEARDOWN_HELP);
    const names = [values['medical-ns']!, values['payment-ns']!];
    if (names.some((n) => !NAME.test(n))) return usage(TEARDOWN_HELP, 'not a namespace name');
    const existing = await namespaces();
    for (const ns of names.filter((n) => existing.has(n))) {
      const pids = (await run(['ip', 'netns', 'pids', ns])).stdout.split('\n').filter((l) => l.trim() !== '');
      if (pids.length > 0) {
        process.stderr.write(`netns teardown: processes still run in ${ns} (pids ${pids.join(', ')}); stop them first\n`);
        return EXIT_FAILURE;
      }
    }
    for (const ns of names) {
      if (!existing.has(ns)) {
        process.stdout.write(`${ns}: not present\n`);
        continue;
      }
      const failed = await step(['ip', 'netns', 'del', ns]);
      if (failed) {
        process.stderr.write(`netns teardown: ${failed}\n`);
        return EXIT_FAILURE;
      }
    }
    return EXIT_OK;
  },
};

function sideProblem(name: string, side: { ns: string; nic: string | undefined; addr: string | undefined; gateway: string | undefined }): string | null {
  if (side.nic === undefined) return `--${name}-if is required`;
  if (!INTERFACE.test(side.nic) || side.nic === 'lo') return `--${name}-if: not an interface name`;
  if (!NAME.test(side.ns)) return `--${name}-ns: not a namespace name`;
  if (side.addr !== undefined) {
    const [address, prefix, extra] = side.addr.split('/');
    const family = isIP(address ?? '');
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || prefix === undefined || !/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > bits) {
      return `--${name}-addr: expected ADDRESS/PREFIX, e.g. 10.20.0.5/16`;
    }
  }
  if (side.gateway !== undefined && isIP(side.gateway) === 0) return `--${name}-gateway: not an IP address`;
  return null;
}

// Each step checks what is there first, so a second run changes nothing.
async function setUp(side: Side): Promise<string | null> {
  if (!(await namespaces()).has(side.ns)) {
    const failed = await step(['ip', 'netns', 'add', side.ns]);
    if (failed) return failed;
  }
  const inside = (await run(['ip', '-n', side.ns, 'link', 'show', 'dev', side.nic])).code === 0;
  if (!inside) {
    if ((await run(['ip', 'link', 'show', 'dev', side.nic])).code !== 0) return `no interface ${side.nic} here or in ${side.ns}`;
    const failed = await step(['ip', 'link', 'set', 'dev', side.nic, 'netns', side.ns]);
    if (failed) return failed;
  }
  const steps = [
    ['ip', '-n', side.ns, 'link', 'set', 'dev', 'lo', 'up'],
    ['ip', '-n', side.ns, 'link', 'set', 'dev', side.nic, 'up'],
    ...(side.addr ? [['ip', '-n', side.ns, 'address', 'replace', side.addr, 'dev', side.nic]] : []),
    ...(side.gateway ? [['ip', '-n', side.ns, 'route', 'replace', 'default', 'via', side.gateway, 'dev', side.nic]] : []),
  ];
  for (const argv of steps) {
    const failed = await step(argv);
    if (failed) return failed;
  }
  process.stdout.write(`${side.ns}: ${side.nic}${side.addr ? ` ${side.addr}` : ''}${side.gateway ? ` via ${side.gateway}` : ''}\n`);
  return null;
}

async function step(argv: string[]): Promise<string | null> {
  const r = await run(argv);
  return r.code === 0 ? null : `${argv.join(' ')}: ${firstLines(r.stderr) || `exit ${String(r.code)}`}`;
}

async function namespaces(): Promise<Set<string>> {
  const r = await run(['ip', 'netns', 'list']);
  // `ip netns list` prints `name (id: N)` for namespaces with an id.
  return new Set(r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== ''));
}

function usage(text: string, message: string): number {
  process.stderr.write(`${message}\n\n${text}`);
  return EXIT_USAGE;
}

function help(text: string): number {
  process.stdout.write(text);
  return EXIT_OK;
}
