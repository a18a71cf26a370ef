// `ferry sim registration`: a kiosk or a registration desk registering a patient for a
// session (and paying the fee), or cancelling a registration, against a running gateway.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { isErrorReply } from '../../../devices/client.js';
import { KioskSim, DEFAULT_WAIT_FINAL_MS } from '../../../sim/devices/kiosk.js';
import {
  CONNECTION_OPTIONS, connectionHelp, UsageError, connectOptions, describeError, operatingError, printJson, printLine, yuan, commandOutput, prepared,
} from '../../../sim/devices/cli-support.js';

const DEFAULT_DEVICE = 'kiosk-01';

const HELP = `Usage: ferry sim registration <action> [options]

Acts as a kiosk or a registration desk (--device desk-01) registering patients.

Actions:
  register --dept D --session S --patient P [--date YYYY-MM-DD] [--level L] [--pay code|qr|none]
      holds a slot of the session (default today, regular level) and pays its fee
      (default --pay code: a wallet code; qr: scan-to-pay; none: only hold it). On
      success prints the visit number.
  cancel --registration R --patient P
      releases a hold, or cancels a paid booking (the fee is refunded).
  query --patient P [--date YYYY-MM-DD]
      lists the patient's registrations with status and visit number
      (registration.query), e.g. after a missed registration.booked.

${connectionHelp(DEFAULT_DEVICE)}

Exit status: 0 on success, 1 on a refusal (e.g. SOLD_OUT), a failed payment or a
timeout, 2 on a wrong command line.

Examples:
  ferry sim registration register --dept INT --session afternoon --patient P-1001
  ferry sim registration cancel --registration R20261126-abcd-000001 --patient P-1001 --device desk-01`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  dept: { type: 'string' },
  session: { type: 'string' },
  patient: { type: 'string' },
  date: { type: 'string' },
  level: { type: 'string' },
  pay: { type: 'string', default: 'code' },
  registration: { type: 'string' },
} as const;

const out = commandOutput('sim registration', HELP);
const { failure, usage } = out;

export const command: Command = {
  name: 'sim registration',
  summary: 'act as a kiosk or desk: register for a session, pay, cancel, query',
  help: HELP,
  async run(args) {
    const [action, ...rest] = args;
    if (action !== 'register' && action !== 'cancel' && action !== 'query') return usage('expected an action: register, cancel or query');
    const ready = await prepared(out, async () => {
      const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
      if (!values.patient) throw new UsageError('--patient is required');
      if (action === 'register' && (!values.dept || !values.session)) throw new UsageError('register needs --dept and --session');
      if (action === 'cancel' && !values.registration) throw new UsageError('cancel needs --registration');
      if (!['code', 'qr', 'none'].includes(values.pay!)) throw new UsageError('--pay is code, qr or none');
      const opts = connectOptions(values, DEFAULT_DEVICE);
      return { values, kiosk: await KioskSim.connect(opts) };
    });
    if (typeof ready === 'number') return ready;
    const { values, kiosk } = ready;
    const request = { timeoutMs: Number(values['timeout-ms']) };
    try {
      if (action === 'query') {
        const reply = await kiosk.queryRegistrations({ patientId: values.patient!, ...(values.date ? { date: values.date } : {}) }, request);
        if (values.json) printJson(reply);
        if (isErrorReply(reply)) return failure(describeError(reply));
        if (!values.json) {
          if (reply.body.registrations.length === 0) printLine('no registrations');
          for (const r of reply.body.registrations) {
            printLine(`${r.registrationId}: ${r.dept} ${r.date} ${r.session}, ${r.status}${r.visitNo !== undefined ? `, visit number ${r.visitNo}` : ''}`);
          }
        }
        return EXIT_OK;
      }
      if (action === 'cancel') {
        const reply = await kiosk.cancelRegistration(values.registration!, values.patient!, request);
        if (values.json) printJson(reply);
        if (isErrorReply(reply)) return failure(describeError(reply));
        if (!values.json) printLine(`registration ${reply.body.registrationId}: ${reply.body.status}${reply.body.refundId ? `, refund ${reply.body.refundId}` : ''}`);
        return EXIT_OK;
      }
      const req = {
        dept: values.dept!, session: values.session!, patientId: values.patient!,
        ...(values.date ? { date: values.date } : {}), ...(values.level ? { level: values.level } : {}),
      };
      if (values.pay === 'none') {
        const held = await kiosk.register(req, request);
        if (values.json) printJson(held);
        if (isErrorReply(held)) return failure(describeError(held));
        if (!values.json) printLine(`held ${held.body.registrationId}: ${held.body.dept} ${held.body.date} ${held.body.session}, fee ${yuan(held.body.fee)} CNY, pay before ${held.body.expiresAt}`);
        return EXIT_OK;
      }
      const outcome = await kiosk.registerAndPay(req, values.pay as 'code' | 'qr', {
        request, waitFinalMs: DEFAULT_WAIT_FINAL_MS,
        onPending: (p) => {
          if (!values.json && p.body.qrCode) printLine(`pending: show QR code ${p.body.qrCode}`);
        },
      });
      if (values.json) printJson(outcome);
      if (isErrorReply(outcome.held)) return failure(describeError(outcome.held));
      const reply = outcome.payment?.reply;
      if (!reply || isErrorReply(reply)) return failure(reply ? describeError(reply) : 'no payment answer');
      if (reply.body.status !== 'succeeded') return failure(`payment ${reply.body.status}${reply.body.reason ? `: ${reply.body.reason}` : ''}`);
      if (!outcome.booked) return failure(`paid (order ${reply.body.orderId}) but no booking arrived; it is booked or refunded by the gateway`);
      const b = outcome.booked.body;
      if (!values.json) printLine(`booked ${b.registrationId}: ${b.dept} ${b.date} ${b.session}, visit number ${b.visitNo}, paid ${yuan(reply.body.amount)} CNY (order ${b.orderId})`);
      return EXIT_OK;
    } catch (err) {
      return failure(operatingError(err));
    } finally {
      await kiosk.close();
    }
  },
};
