// `ferry sim receiver`: a medical information receiver reporting a department's
// registration status for a day.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { isErrorReply } from '../../../devices/client.js';
import { ReceiverSim, type SessionReport } from '../../../sim/devices/receiver.js';
import { HospitalDay, TIME_ZONE_DEFAULT } from '../../common/hospital-day.js';
import {
  CONNECTION_OPTIONS, connectionHelp, UsageError, connectOptions, describeError, nonNegativeInt, operatingError, printJson, printLine, commandOutput, prepared,
} from '../../../sim/devices/cli-support.js';

const DEFAULT_DEVICE = 'receiver-01';

const HELP = `Usage: ferry sim receiver report --dept D --session NAME:CAPACITY:BOOKED[:closed] ... [options]

Acts as a medical information receiver: reports a department's registration status for
a day. BOOKED counts the bookings made at the window or elsewhere, outside the gateway;
add :closed to close a session. The gateway recomputes the remaining counts and
republishes slots/{dept}/{date}. Without --taken, the window is taken to hold visit
numbers 1..BOOKED; --taken names the numbers it holds.

Options:
  --dept D            department code (departments.yaml)
  --date YYYY-MM-DD   the day (default today in Asia/Shanghai)
  --session SPEC      one per session, e.g. morning:40:12 or afternoon:30:0:closed
  --taken NAME:N,N..  the visit numbers the window gave in session NAME, e.g. morning:1,2,3,6
  --version N         the report's version (default: the current unix time in seconds)

${connectionHelp(DEFAULT_DEVICE)}

Example:
  ferry sim receiver report --dept INT --session morning:40:12 --session afternoon:30:3`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  dept: { type: 'string' },
  date: { type: 'string' },
  session: { type: 'string', multiple: true },
  taken: { type: 'string', multiple: true },
  version: { type: 'string' },
} as const;

const out = commandOutput('sim receiver', HELP);
const { failure, usage } = out;

export const command: Command = {
  name: 'sim receiver',
  summary: 'act as a medical information receiver: report slots',
  help: HELP,
  async run(args) {
    const [action, ...rest] = args;
    if (action !== 'report') return usage('expected the action: report');
    const ready = await prepared(out, async () => {
      const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
      if (!values.dept) throw new UsageError('--dept is required');
      const sessions = (values.session ?? []).map(parseSession);
      if (sessions.length === 0) throw new UsageError('give at least one --session');
      for (const spec of values.taken ?? []) addTaken(sessions, spec);
      if (values.version !== undefined) nonNegativeInt(values.version, '--version');
      return { values: { ...values, dept: values.dept }, sessions, receiver: await ReceiverSim.connect(connectOptions(values, DEFAULT_DEVICE)) };
    });
    if (typeof ready === 'number') return ready;
    const { values, sessions, receiver } = ready;
    try {
      const date = values.date ?? new HospitalDay(TIME_ZONE_DEFAULT).dayOf(Date.now());
      const reply = await receiver.report(values.dept, date, sessions, {
        ...(values.version !== undefined ? { version: Number(values.version) } : {}), request: { timeoutMs: Number(values['timeout-ms']) },
      });
      if (values.json) printJson(reply);
      if (isErrorReply(reply)) return failure(describeError(reply));
      if (!values.json) printLine(`${reply.body.dept} ${reply.body.date} version ${reply.body.version}: ${reply.body.applied ? 'applied' : `not applied (${reply.body.reason})`}`);
      return reply.body.applied ? EXIT_OK : EXIT_FAILURE;
    } catch (err) {
      return failure(operatingError(err));
    } finally {
      await receiver.close();
    }
  },
};

function parseSession(spec: string): SessionReport {
  const [session, capacity, booked, closed, extra] = spec.split(':');
  if (!session || capacity === undefined || booked === undefined || extra !== undefined || (closed !== undefined && closed !== 'closed')) {
    throw new UsageError(`--session is NAME:CAPACITY:BOOKED[:closed], not ${spec}`);
  }
  return { session, capacity: nonNegativeInt(capacity, '--session capacity'), booked: nonNegativeInt(booked, '--session booked'), ...(closed ? { closed: true } : {}) };
}

function addTaken(sessions: SessionReport[], spec: string): void {
  const [name, list, extra] = spec.split(':');
  if (!name || !list || extra !== undefined) throw new UsageError(`--taken is NAME:N,N,..., not ${spec}`);
  const session = sessions.find((s) => s.session === name);
  if (!session) throw new UsageError(`--taken names session ${name}, which no --session reports`);
  session.takenNumbers = list.split(',').map((n) => nonNegativeInt(n, '--taken visit number'));
}
