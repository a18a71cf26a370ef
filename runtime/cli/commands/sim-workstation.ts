// `ferry sim workstation`: a doctor's workstation of one department. Prints every
// patient message that arrives and acknowledges it; runs until stopped (or --count).
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import type { DispatchMessageBody } from '../../../devices/protocol.js';
import { DEMO_DEVICES } from '../../../sim/demo-devices.js';
import { WorkstationSim } from '../../../sim/devices/workstation.js';
import {
  CONNECTION_OPTIONS, connectionHelp, UsageError, connectOptions, positiveInt, printJson, printLine, commandOutput, prepared,
} from '../../../sim/devices/cli-support.js';

const DEFAULT_DEVICE = 'ws-int-01';

const HELP = `Usage: ferry sim workstation [options]

Acts as a doctor's workstation: subscribes to its department's inbox
(dept/{dept}/inbox), prints each patient message that arrives, and acknowledges it
(dispatch.ack). A message another workstation of the department took first is shown
as dropped. Messages left unacknowledged while the workstation was off arrive when it
connects. Runs until Ctrl-C.

Options:
  --dept D            the department (default: the demo device's department)
  --count N           exit after N messages were taken here
  --no-ack            only show what arrives; never acknowledge

${connectionHelp(DEFAULT_DEVICE)}

Exit status: 0 when stopped (or --count reached), 1 when the connection fails,
2 on a wrong command line.

Example:
  ferry sim workstation --device ws-int-01
  ferry sim kiosk patient-info --symptoms "chest pain since this morning"   # elsewhere`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  dept: { type: 'string' },
  count: { type: 'string' },
  'no-ack': { type: 'boolean', default: false },
} as const;

const out = commandOutput('sim workstation', HELP);

export const command: Command = {
  name: 'sim workstation',
  summary: 'act as a workstation: show and acknowledge dispatched patient messages',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const ready = await prepared(out, async () => {
      const { values } = parse(args);
      const opts = connectOptions(values, DEFAULT_DEVICE);
      const dept = values.dept ?? DEMO_DEVICES.find((d) => d.id === opts.id)?.dept;
      if (dept === undefined) throw new UsageError(`${opts.id} is not a demo workstation: give --dept`);
      const count = values.count === undefined ? undefined : positiveInt(values.count, '--count');
      return { json: values.json === true, count, ws: await WorkstationSim.connect(opts, { dept, autoAck: !values['no-ack'], maxAcksInFlight: 1 }) };
    });
    if (typeof ready === 'number') return ready;
    return watch(ready.ws, ready.json, ready.count);
  },
};

function parse(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS });
}

async function watch(ws: WorkstationSim, json: boolean, count: number | undefined): Promise<number> {
  const show = (event: string, m: DispatchMessageBody | undefined, extra: Record<string, unknown> = {}) => {
    if (json) printJson({ event, ...(m ? { message: m } : {}), ...extra });
  };
  ws.on('received', (m) => {
    show('received', m);
    if (!json) printLine(describe(m));
  });
  ws.on('processed', (m) => {
    show('taken', m);
    if (!json) printLine(`  taken: ${m.dispatchId}`);
  });
  ws.on('dropped', (id, by) => {
    show('dropped', undefined, { dispatchId: id, takenBy: by });
    if (!json) printLine(`  dropped: ${id} (taken by ${by})`);
  });
  ws.on('failed', (id, why) => {
    show('failed', undefined, { dispatchId: id, reason: why });
    if (!json) process.stderr.write(`ferry sim workstation: acknowledging ${id} failed: ${why}\n`);
  });
  if (!json) printLine(`${ws.client.id}: listening to dept/${ws.dept}/inbox`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (count !== undefined) ws.on('processed', () => {
      if (ws.processed.length >= count) stop();
    });
  });
  await ws.close();
  return EXIT_OK;
}

function describe(m: DispatchMessageBody): string {
  const v = m.vitals;
  const vitals = v ? ` vitals: ${Object.entries(v).map(([k, x]) => `${k}=${x}`).join(' ')}` : '';
  const who = [m.patientId ? `patient ${m.patientId}` : '', m.registrationId ? `booking ${m.registrationId}` : ''].filter(Boolean).join(', ');
  const why = m.routedBy === 'triage' ? `triage ${m.rule}` : m.routedBy;
  return `[${m.dept} #${m.seq} ${m.priority}${m.redelivery ? ' again' : ''}] ${m.dispatchId} from ${m.kiosk} (${why})${who ? ` ${who}` : ''}: ${JSON.stringify(m.symptoms)}${vitals}`;
}
