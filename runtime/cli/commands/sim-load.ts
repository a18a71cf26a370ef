// `ferry sim load`: many devices against a running gateway, with a mix of requests at a
// chosen rate, reporting the achieved rate and latency percentiles (sim/load/).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { DEFAULT_URL, UsageError, parseGatewayUrls, nonNegativeInt, positiveInt, printJson, printLine } from '../../../sim/devices/cli-support.js';
import { demoPassword } from '../../../sim/demo-devices.js';
import { readDevicesFile, type Credential } from '../../../sim/load/devices-file.js';
import { formatLoadTest, loadTest } from '../../../sim/load/load-test.js';
import { LOAD_DESK_ID, LOAD_DEVICES_FILE, LOAD_DEVICES_MAX, LOAD_KIOSKS_MAX, loadDeptCode, LOAD_DEPTS, writeLoadRules } from '../../../sim/load/rules.js';
import { localDate, parseMix, formatMix } from '../../../sim/load/workload.js';

const DEFAULT_DEVICES = 1000;
const DEFAULT_MIX = 'pay=1,query=1,register=1';
const DEFAULT_DESK = 'billing-01';

const HELP = `Usage: ferry sim load --devices-file FILE [options]
       ferry sim load --write-rules DIR [--devices N] [--rules BASE]

Connects many devices to a running gateway and sends a mix of requests: bill queries,
payments of bills that a billing desk creates first, and registration holds. Reports
the rate achieved and latency percentiles (p50, p95, p99) of the expected answers;
refusals, failed payments and timeouts are counted by code. Exit status 1 when any
request was not answered as expected.

Devices:
  --devices-file FILE  one device a line, id:password (the kiosks; a line for the
                       billing desk too). --write-rules makes one; or with
                       \`ferry devices add\`, which prints each new password:
                         for i in $(seq -w 1 50); do
                           echo "kiosk-l$i:$(ferry devices add kiosk-l$i --role kiosk)"; done > devices.txt
  --devices N          how many of the file's kiosks to connect (default ${DEFAULT_DEVICES}, at most ${LOAD_DEVICES_MAX})
  --desk ID            the billing desk (default ${LOAD_DESK_ID} if the file lists it, else
                       ${DEFAULT_DESK} with its demo password)
  --url URL[,URL...]   broker (default ${DEFAULT_URL}); an active/standby pair's addresses,
                       comma-separated, are tried in turn

Load:
  --mix SPEC           weights of pay, query, register (default ${DEFAULT_MIX})
  --requests N         requests in the run (default 5 per device)
  --mode closed|open   closed (default): each device waits for its answer before its next
                       request; open: requests arrive at --rate whatever the answers
  --rate N             requests per second (open: required; closed: an upper bound)
  --concurrency N      closed loop: devices sending at once (default all)
  --dept A,B           departments to register in (default LOAD01..LOAD${String(LOAD_DEPTS).padStart(2, '0')}, those of --write-rules)
  --session S,T        sessions (default morning,afternoon)
  --date YYYY-MM-DD    the day to register for (default tomorrow, hospital time)
  --storm M            after the run, drop M connections at once and time until all are back
  --timeout-ms N       per request, resends included (default 15000)
  --json               print the report as JSON

--write-rules DIR      writes a rule set for load runs to DIR (new): the rules of --rules
                       (default rules/) with rate limits lifted, only load devices (N
                       kiosks and a billing desk, cheap scrypt hashes), and departments LOAD01.. with room
                       for 200,000 holds tomorrow; and DIR/${LOAD_DEVICES_FILE}. Then:
                         ferry start --rules DIR &
                         ferry sim load --devices-file DIR/${LOAD_DEVICES_FILE}

Open files: each connection is a file descriptor on both sides. 10,000 devices need
\`ulimit -n\` above 10,100 for this command and for the gateway.`;

const OPTIONS = {
  'devices-file': { type: 'string' }, devices: { type: 'string' }, desk: { type: 'string' },
  url: { type: 'string', default: DEFAULT_URL }, mix: { type: 'string', default: DEFAULT_MIX },
  requests: { type: 'string' }, mode: { type: 'string', default: 'closed' }, rate: { type: 'string' },
  concurrency: { type: 'string' }, dept: { type: 'string' }, session: { type: 'string', default: 'morning,afternoon' },
  date: { type: 'string' }, storm: { type: 'string', default: '0' }, 'timeout-ms': { type: 'string', default: '15000' },
  'write-rules': { type: 'string' }, rules: { type: 'string', default: 'rules' },
  json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS });
}

export const command: Command = {
  name: 'sim load',
  summary: 'many devices against a running gateway: rate and latency',
  help: HELP,
  async run(args: string[]): Promise<number> {
    let values: Values;
    try {
      values = parse(args).values;
      if (values.help) return say(HELP, EXIT_OK);
      if (values['write-rules']) return writeRules(values);
      return await load(values);
    } catch (err) {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`ferry sim load: ${(err as Error).message}\n\n${HELP}\n`);
        return EXIT_USAGE;
      }
      process.stderr.write(`ferry sim load: ${(err as Error).message}\n`);
      return EXIT_FAILURE;
    }
  },
};

function writeRules(values: Values): number {
  const devices = values.devices === undefined ? DEFAULT_DEVICES : positiveInt(values.devices, '--devices');
  if (devices > LOAD_KIOSKS_MAX) throw new UsageError(`--devices is at most ${LOAD_KIOSKS_MAX} with --write-rules (the desk makes ${LOAD_DEVICES_MAX})`);
  const target = path.resolve(values['write-rules']!);
  const written = writeLoadRules(devices, { baseDir: path.resolve(values.rules!), target });
  printLine(`wrote load rules for ${written.kiosks.length} kiosks and billing desk ${written.desk.id} to ${target}; devices in ${path.join(target, LOAD_DEVICES_FILE)}`);
  return EXIT_OK;
}

async function load(values: Values): Promise<number> {
  if (!values['devices-file']) throw new UsageError('--devices-file is required (or --write-rules to make one)');
  let listed: Credential[];
  try {
    listed = readDevicesFile(values['devices-file']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const deskId = values.desk ?? (listed.some((d) => d.id === LOAD_DESK_ID) ? LOAD_DESK_ID : DEFAULT_DESK);
  const deskPassword = listed.find((d) => d.id === deskId)?.password ?? demoPassword(deskId);
  const wanted = values.devices === undefined ? DEFAULT_DEVICES : positiveInt(values.devices, '--devices');
  if (wanted > LOAD_DEVICES_MAX) throw new UsageError(`--devices is at most ${LOAD_DEVICES_MAX}`);
  const kiosks = listed.filter((d) => d.id !== deskId).slice(0, wanted);
  if (kiosks.length === 0) throw new UsageError(`${values['devices-file']} lists no device besides the desk`);
  const mode = values.mode;
  if (mode !== 'closed' && mode !== 'open') throw new UsageError('--mode is closed or open');
  const rate = values.rate === undefined ? undefined : positiveInt(values.rate, '--rate');
  if (mode === 'open' && rate === undefined) throw new UsageError('--mode open needs --rate');
  const mix = (() => {
    try {
      return parseMix(values.mix!);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  })();
  const date = values.date ?? localDate(1);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new UsageError('--date is YYYY-MM-DD');
  const storm = nonNegativeInt(values.storm!, '--storm');
  if (storm > kiosks.length) throw new UsageError(`--storm is at most the number of devices (${kiosks.length})`);
  const report = await loadTest({
    url: parseGatewayUrls(values.url!, '--url'), kiosks, ...(deskPassword ? { desk: { id: deskId, password: deskPassword } } : {}),
    mix, requests: values.requests === undefined ? 5 * kiosks.length : positiveInt(values.requests, '--requests'), mode,
    ...(rate ? { rate } : {}), ...(values.concurrency ? { concurrency: positiveInt(values.concurrency, '--concurrency') } : {}),
    registering: {
      depts: (values.dept ?? Array.from({ length: LOAD_DEPTS }, (_, i) => loadDeptCode(i)).join(',')).split(',').filter(Boolean),
      sessions: values.session!.split(',').filter(Boolean), date,
    },
    storm, requestTimeoutMs: positiveInt(values['timeout-ms']!, '--timeout-ms'),
    progress: values.json ? undefined : (line) => process.stderr.write(`${line.split('\n')[0]}\n`),
  });
  if (values.json) printJson({ mix: formatMix(mix), ...report });
  else printLine(formatLoadTest(report));
  const ok = report.run.answered === report.run.requests && (!report.storm || report.storm.reconnected === report.storm.dropped);
  return ok ? EXIT_OK : EXIT_FAILURE;
}

function say(text: string, status: number): number {
  process.stdout.write(`${text}\n`);
  return status;
}
