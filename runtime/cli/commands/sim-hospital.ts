// `ferry sim hospital`: a hospital day in simulation, with every invariant checked.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { listScenarios, loadScenario } from '../../../sim/hospital/scenario.js';
import { runHospital } from '../../../sim/hospital/run.js';
import { formatReport } from '../../../sim/hospital/report.js';

const HELP = `Usage: ferry sim hospital [--scenario NAME|FILE] [--seed N] [--patients N] [--speed N] [--json] [--keep-data]

Runs a hospital day against a gateway of its own: starts the inner and outer processes
on a generated rule set (the example rules plus the scenario's devices), the payment
server simulator, and kiosks, registration desks, billing desks, receivers and doctors'
workstations. Patients arrive with a morning peak to register (and sometimes cancel),
pay bills by wallet code or scan-to-pay, and describe their symptoms for dispatch.
Payment-server faults (latency, errors, an outage window) come from the scenario.

At the end it stops the gateway and checks the invariants of docs/design.md against the store
and the payment server's books: no payment lost, none charged twice, no session
overbooked, every paid registration booked or refunded, every dispatched message taken
once by its department, the audit chain intact. Exit status 1 when one fails.

Options:
  --scenario NAME|FILE  a scenario of sim/scenarios/ (default: default) or a YAML file
  --seed N              another seed for the same scenario
  --patients N          another number of patients
  --speed N             run the day N times faster than real time, the gateway's
                        timers included (default 1; the tests use 4)
  --json                print the report as JSON
  --keep-data           keep the gateway's data directory (printed) for a closer look

Scenarios: ${listScenarios().join(', ')}`;

export const command: Command = {
  name: 'sim hospital',
  summary: 'simulate a hospital day and check every invariant',
  help: HELP,
  async run(args) {
    let values;
    try {
      values = parseArgs({
        args, strict: true, allowPositionals: false,
        options: { scenario: { type: 'string', default: 'default' }, seed: { type: 'string' }, patients: { type: 'string' }, speed: { type: 'string' }, json: { type: 'boolean', default: false }, 'keep-data': { type: 'boolean', default: false } },
      }).values;
    } catch (err) {
      process.stderr.write(`ferry sim hospital: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    let scenario;
    let speed: number | undefined;
    try {
      scenario = loadScenario(values.scenario!);
      if (values.seed !== undefined) scenario.seed = wholeNumber(values.seed, '--seed');
      if (values.patients !== undefined) scenario.patients = wholeNumber(values.patients, '--patients');
      if (values.speed !== undefined) speed = positiveSpeed(values.speed);
    } catch (err) {
      process.stderr.write(`ferry sim hospital: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    const tty = process.stderr.isTTY;
    const report = await runHospital(scenario, {
      keepData: values['keep-data'] === true,
      ...(speed !== undefined ? { speed } : {}),
      progress: (line) => process.stderr.write(tty ? `\r${line.padEnd(120).slice(0, 120)}` : `${line}\n`),
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    if (report.dataDir) process.stderr.write(`data kept in ${report.dataDir}\n`);
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  },
};

function wholeNumber(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${text}`);
  return n;
}

// Past 10 the gateway's heartbeats (a third of the channel's 15 s silence limit) come
// so fast that a busy machine's pauses would read as a lost channel.
const SPEED_MAX = 10;

function positiveSpeed(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 1 || n > SPEED_MAX) throw new Error(`--speed must be a number from 1 to ${SPEED_MAX}, not ${text}`);
  return n;
}
