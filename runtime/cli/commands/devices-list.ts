// ferry devices list: devices.yaml, with what the running gateway knows of each device.
import { DEFAULT_PATHS } from '../../common/default-paths.js';
import { listDevices, type FileDevice } from '../../rules/devices-file.js';
import { describeFailure } from '../../rules/report.js';
import type { DeviceEntry } from '../../inner/management/devices.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, parseCommandLine } from '../command.js';
import { CONNECTION_OPTIONS } from '../management-client.js';
import { DEVICE_CONNECTION_HELP, readRoster } from '../running-gateway.js';

const HELP = `Usage: ferry devices list [--json] [options]

Lists every device in DIR/devices.yaml (DIR defaults to ${DEFAULT_PATHS.rules}): its id, role,
department, whether it is enabled, and how it logs in. When the gateway runs, each
device also shows what the running gateway knows of it, read from the management API
(GET /v1/devices, read token): online or not, when it was last seen (its last connect,
disconnect or message), and how many of its CONNECTs, publishes and subscribes were
refused. The gateway keeps these in memory: they start empty at each start, and the
audit log has the full history. A device whose change in the file the running gateway
has not applied yet is marked "(not applied)".

When the gateway is not running (the API does not answer), the list comes from the
file alone and says that online status is unknown.

Options:
  --json             one JSON document on stdout, for scripts
${DEVICE_CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 listed, 1 the rule files do not load or the API refused (e.g. a wrong
token), 2 the command line is wrong.
`;

const OPTIONS = { ...CONNECTION_OPTIONS, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } as const;

export const command: Command = { name: 'devices list', summary: 'list the devices, with online status when the gateway runs', help: HELP, run };

export interface ListedDevice extends FileDevice {
  // null: the gateway is not running, so nothing is known.
  online: boolean | null;
  lastSeenAt: string | null;
  connectedAt: string | null;
  disconnectedAt: string | null;
  lastMessageAt: string | null;
  remote: string | null;
  refusals: DeviceEntry['refusals'] | null;
  // Whether the running gateway runs with this entry as the file has it.
  applied: boolean | null;
}

async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, HELP);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 0) {
    process.stderr.write(`devices list: takes no ID\n\n${HELP}`);
    return EXIT_USAGE;
  }
  let file: FileDevice[];
  try {
    file = listDevices(values.rules);
  } catch (err) {
    process.stderr.write(`devices list: the rule files do not load\n${describeFailure(values.rules, err)}`);
    return EXIT_FAILURE;
  }
  let roster;
  try {
    roster = await readRoster(values);
  } catch (err) {
    process.stderr.write(`devices list: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const live = new Map(roster.running ? roster.listing.devices.map((d) => [d.id, d]) : []);
  const devices = file.map((d): ListedDevice => {
    const r = live.get(d.id);
    return {
      ...d,
      online: roster.running ? (r?.online ?? false) : null,
      lastSeenAt: r?.lastSeenAt ?? null, connectedAt: r?.connectedAt ?? null, disconnectedAt: r?.disconnectedAt ?? null,
      lastMessageAt: r?.lastMessageAt ?? null, remote: r?.remote ?? null,
      refusals: roster.running ? (r?.refusals ?? { connect: 0, publish: 0, subscribe: 0 }) : null,
      applied: roster.running ? r !== undefined && r.enabled === d.enabled && r.role === d.role && r.dept === d.dept && r.login === d.login : null,
    };
  });
  const inFile = new Set(file.map((d) => d.id));
  const notInFile = [...live.keys()].filter((id) => !inFile.has(id));
  const statusNote = roster.running ? null : `${roster.why}: online status unknown`;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ gatewayRunning: roster.running, ...(statusNote ? { note: statusNote } : {}), devices, runningButRemoved: notInFile }, null, 2)}\n`);
    return EXIT_OK;
  }
  process.stdout.write(table(devices));
  if (statusNote) process.stdout.write(`\n${statusNote}\n`);
  if (notInFile.length > 0) process.stdout.write(`\nremoved from devices.yaml but still in the running rules (not applied): ${notInFile.join(', ')}\n`);
  return EXIT_OK;
}

function table(devices: ListedDevice[]): string {
  const rows = devices.map((d) => [
    d.id, d.role, d.dept ?? '-', `${d.enabled ? 'enabled' : 'disabled'}${d.applied === false ? ' (not applied)' : ''}`,
    d.online === null ? 'unknown' : d.online ? 'online' : 'offline',
    d.lastSeenAt ?? '-',
    d.refusals === null ? '-' : refusalsText(d.refusals),
  ]);
  const header = ['ID', 'ROLE', 'DEPT', 'STATE', 'STATUS', 'LAST SEEN', 'REFUSED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
  return [header, ...rows].map(line).join('') + (devices.length === 0 ? '(no devices)\n' : '');
}

function refusalsText(r: DeviceEntry['refusals']): string {
  const total = r.connect + r.publish + r.subscribe;
  if (total === 0) return '0';
  const parts = (['connect', 'publish', 'subscribe'] as const).filter((k) => r[k] > 0).map((k) => `${k} ${r[k]}`);
  return `${total} (${parts.join(', ')})`;
}
