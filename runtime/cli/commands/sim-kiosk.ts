// `ferry sim kiosk`: one self-service kiosk action against a running gateway, for demos
// and for trying the rules by hand.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { isErrorReply } from '../../../devices/client.js';
import type { BillSummary } from '../../../devices/protocol.js';
import { KioskSim, DEFAULT_WAIT_FINAL_MS, type PayBillArgs, type PayOutcome } from '../../../sim/devices/kiosk.js';
import {
  CONNECTION_OPTIONS, connectionHelp, UsageError, connectOptions, describeError, nonNegativeInt, operatingError,
  positiveInt, printJson, printLine, yuan, commandOutput, prepared,
} from '../../../sim/devices/cli-support.js';
import { PATIENT_INFO_HELP, PATIENT_INFO_OPTIONS, patientInfoBody, sendPatientInfo } from '../../../sim/devices/patient-info.js';

const DEFAULT_DEVICE = 'kiosk-01';

const HELP = `Usage: ferry sim kiosk <action> [options]

Acts as a self-service kiosk on the medical network.

Actions:
  query-bills --patient P
      lists the patient's open bills
  pay-bill --patient P [--bill B] [--method code|qr] [--auth-code C] [--amount FEN]
      pays bill B (default: the patient's first open bill) in full. With --method code
      (the default) the patient shows a wallet code (--auth-code; a random accepted one
      if absent; one ending in 0000 is declined by the payment simulator). With
      --method qr the kiosk shows a QR code and waits for the payment to complete.
      --amount skips the bill lookup and pays that many fen.
      --wait-ms N   how long to wait for a pending payment to end (default ${DEFAULT_WAIT_FINAL_MS})
${PATIENT_INFO_HELP}

${connectionHelp(DEFAULT_DEVICE)}

Exit status: 0 on success, 1 on a refusal, a failed payment or a timeout, 2 on a
wrong command line.

Examples:
  ferry sim kiosk query-bills --patient P-1001
  ferry sim kiosk pay-bill --patient P-1001 --method qr --device kiosk-02`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  patient: { type: 'string' },
  bill: { type: 'string' },
  method: { type: 'string', default: 'code' },
  'auth-code': { type: 'string' },
  amount: { type: 'string' },
  'wait-ms': { type: 'string', default: String(DEFAULT_WAIT_FINAL_MS) },
  ...PATIENT_INFO_OPTIONS,
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS });
}

const out = commandOutput('sim kiosk', HELP);
const { failure, usage } = out;

export const command: Command = {
  name: 'sim kiosk',
  summary: 'act as a kiosk: query and pay bills',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const [action, ...rest] = args;
    if (action !== 'query-bills' && action !== 'pay-bill' && action !== 'patient-info') return usage(`expected an action: query-bills, pay-bill or patient-info`);
    const ready = await prepared(out, async () => {
      const { values } = parse(rest);
      if (values.help) return 'help' as const;
      if (action === 'patient-info') patientInfoBody(values);
      else if (!values.patient) throw new UsageError('--patient is required');
      const opts = connectOptions(values, DEFAULT_DEVICE);
      checkPayOptions(values);
      return { values, kiosk: await KioskSim.connect(opts) };
    });
    if (typeof ready === 'number') return ready;
    const { values, kiosk } = ready;
    try {
      if (action === 'patient-info') return await sendPatientInfo(kiosk.client, values);
      return action === 'query-bills' ? await queryBills(kiosk, values) : await payBill(kiosk, values);
    } catch (err) {
      return failure(operatingError(err));
    } finally {
      await kiosk.close();
    }
  },
};

function checkPayOptions(values: Values): void {
  if (values.method !== 'code' && values.method !== 'qr') throw new UsageError('--method is code or qr');
  if (values.method === 'qr' && values['auth-code'] !== undefined) throw new UsageError('--auth-code is for --method code');
  if (values.amount !== undefined) {
    nonNegativeInt(values.amount, '--amount');
    if (values.bill === undefined) throw new UsageError('--amount needs --bill');
  }
  positiveInt(values['timeout-ms']!, '--timeout-ms');
  nonNegativeInt(values['wait-ms']!, '--wait-ms');
}

async function queryBills(kiosk: KioskSim, values: Values): Promise<number> {
  const reply = await kiosk.queryBills(values.patient!, { timeoutMs: Number(values['timeout-ms']) });
  if (values.json) printJson(reply);
  if (isErrorReply(reply)) return values.json ? EXIT_FAILURE : failure(describeError(reply));
  if (values.json) return EXIT_OK;
  const { bills } = reply.body;
  printLine(`${bills.length} open bill${bills.length === 1 ? '' : 's'} for patient ${values.patient}`);
  for (const bill of bills) printLine(describeBill(bill));
  return EXIT_OK;
}

async function payBill(kiosk: KioskSim, values: Values): Promise<number> {
  const timeoutMs = Number(values['timeout-ms']);
  const target = await chooseBill(kiosk, values, timeoutMs);
  if (typeof target === 'number') return target;
  const args: PayBillArgs = { billId: target.billId, amount: target.amount, method: values.method as 'code' | 'qr' };
  if (values['auth-code'] !== undefined) args.authCode = values['auth-code'];
  if (!values.json) printLine(`paying bill ${args.billId}: ${yuan(args.amount)} CNY by ${args.method === 'qr' ? 'scan-to-pay' : 'wallet code'}`);
  const outcome = await kiosk.payBill(args, {
    waitFinalMs: Number(values['wait-ms']),
    request: { timeoutMs },
    onPending: (p) => {
      if (!values.json) printLine(`pending: order ${p.body.orderId}${p.body.qrCode ? `; show QR code ${p.body.qrCode}` : ''}`);
    },
  });
  return report(outcome, values.json === true);
}

// The bill to pay and its amount, or an exit status when there is none.
async function chooseBill(kiosk: KioskSim, values: Values, timeoutMs: number): Promise<{ billId: string; amount: number } | number> {
  if (values.bill !== undefined && values.amount !== undefined) return { billId: values.bill, amount: Number(values.amount) };
  const list = await kiosk.queryBills(values.patient!, { timeoutMs });
  if (isErrorReply(list)) {
    if (values.json) printJson(list);
    return failure(describeError(list));
  }
  const open = list.body.bills.filter((b) => b.status === 'open');
  const bill = values.bill === undefined ? open[0] : open.find((b) => b.billId === values.bill);
  if (!bill) {
    return failure(values.bill === undefined
      ? `no open bill for patient ${values.patient}`
      : `bill ${values.bill} is not an open bill of patient ${values.patient}`);
  }
  return { billId: bill.billId, amount: bill.total };
}

function report(outcome: PayOutcome, json: boolean): number {
  const { reply } = outcome;
  const ok = !isErrorReply(reply) && reply.body.status === 'succeeded';
  if (json) {
    printJson({ ok, requestId: outcome.requestId, ...(outcome.pending ? { pending: outcome.pending } : {}), reply });
    return ok ? EXIT_OK : EXIT_FAILURE;
  }
  if (isErrorReply(reply)) return failure(describeError(reply));
  const { status, orderId, billId, amount, reason } = reply.body;
  if (status === 'succeeded') {
    printLine(`payment succeeded: order ${orderId}, bill ${billId}, ${yuan(amount)} CNY`);
    return EXIT_OK;
  }
  if (status === 'pending') return failure(`payment still pending: order ${orderId}`);
  return failure(`payment failed: order ${orderId}, bill ${billId}${reason ? `: ${reason}` : ''}`);
}

function describeBill(bill: BillSummary): string {
  const items = bill.items.map((i) => `${i.name} x${i.quantity}`).join(', ');
  return `  ${bill.billId}  ${yuan(bill.total).padStart(10)} CNY  ${bill.status}  ${bill.createdAt}  ${items}`;
}
