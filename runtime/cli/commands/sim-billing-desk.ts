// `ferry sim billing-desk`: sends one itemised bill to a running gateway, as the
// hospital's billing system would, and can wait to hear that it was paid.
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { isErrorReply } from '../../../devices/client.js';
import type { BillItem } from '../../../devices/protocol.js';
import { BillingDeskSim } from '../../../sim/devices/billing-desk.js';
import {
  CONNECTION_OPTIONS, connectionHelp, UsageError, connectOptions, describeError, nonNegativeInt, operatingError,
  positiveInt, printJson, printLine, yuan, commandOutput, prepared,
} from '../../../sim/devices/cli-support.js';

const DEFAULT_DEVICE = 'billing-01';
const MAX_ITEMS = 100; // what rules/messages.yaml allows for bill.create

const HELP = `Usage: ferry sim billing-desk create-bill [options]
       ferry sim billing-desk status --bill B | --reference R [options]

Acts as a billing desk on the medical network: sends an itemised bill for a patient.
The total is computed from the items. \`status\` asks for the state of one of this
desk's bills (bill.status): open, paying, or paid with its order and time.

Options:
  --patient P         the patient's id (required)
  --reference R       the billing system's bill number, unique (required)
  --item CODE:NAME:QTY:UNIT_PRICE_FEN
                      one item; repeat for more (at least one, at most ${MAX_ITEMS})
  --wait-paid-ms N    after creating, wait up to N ms for the bill to be paid
  --bill B            status: the bill id from bill.created

${connectionHelp(DEFAULT_DEVICE)}

Exit status: 0 on success, 1 on a refusal or a timeout, 2 on a wrong command line.

Example:
  ferry sim billing-desk create-bill --patient P-1001 --reference INV-0001 \\
    --item LAB-CBC:Blood-count:1:3500 --item MED-AMX:Amoxicillin:2:1250`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  patient: { type: 'string' },
  reference: { type: 'string' },
  bill: { type: 'string' },
  item: { type: 'string', multiple: true },
  'wait-paid-ms': { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS });
}

const out = commandOutput('sim billing-desk', HELP);
const { failure, usage } = out;

export const command: Command = {
  name: 'sim billing-desk',
  summary: 'act as a billing desk: create a bill, ask for its status',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const [action, ...rest] = args;
    if (action === 'status') return status(rest);
    if (action !== 'create-bill') return usage('expected an action: create-bill or status');
    const ready = await prepared(out, async () => {
      const { values } = parse(rest);
      if (values.help) return 'help' as const;
      if (!values.patient) throw new UsageError('--patient is required');
      if (!values.reference) throw new UsageError('--reference is required');
      const items = (values.item ?? []).map(parseItem);
      if (items.length === 0) throw new UsageError('give at least one --item');
      if (items.length > MAX_ITEMS) throw new UsageError(`at most ${MAX_ITEMS} items`);
      if (values['wait-paid-ms'] !== undefined) positiveInt(values['wait-paid-ms'], '--wait-paid-ms');
      positiveInt(values['timeout-ms']!, '--timeout-ms');
      const opts = connectOptions(values, DEFAULT_DEVICE);
      return { values, items, desk: await BillingDeskSim.connect(opts) };
    });
    if (typeof ready === 'number') return ready;
    const { values, items, desk } = ready;
    try {
      return await createBill(desk, values, items);
    } catch (err) {
      return failure(operatingError(err));
    } finally {
      await desk.close();
    }
  },
};

async function status(args: string[]): Promise<number> {
  const ready = await prepared(out, async () => {
    const { values } = parse(args);
    if (values.help) return 'help' as const;
    if ((values.bill === undefined) === (values.reference === undefined)) throw new UsageError('give --bill or --reference (one of them)');
    positiveInt(values['timeout-ms']!, '--timeout-ms');
    return { values, desk: await BillingDeskSim.connect(connectOptions(values, DEFAULT_DEVICE)) };
  });
  if (typeof ready === 'number') return ready;
  const { values, desk } = ready;
  try {
    const by = values.bill !== undefined ? { billId: values.bill } : { reference: values.reference! };
    const reply = await desk.billStatus(by, { timeoutMs: Number(values['timeout-ms']) });
    if (values.json) printJson(reply);
    if (isErrorReply(reply)) return values.json ? EXIT_FAILURE : failure(describeError(reply));
    const b = reply.body;
    if (!values.json) printLine(`bill ${b.billId} (reference ${b.reference}): ${b.status}, ${yuan(b.total)} CNY${b.status === 'paid' ? `, order ${b.orderId} at ${b.paidAt}` : ''}`);
    return EXIT_OK;
  } catch (err) {
    return failure(operatingError(err));
  } finally {
    await desk.close();
  }
}

async function createBill(desk: BillingDeskSim, values: Values, items: BillItem[]): Promise<number> {
  const reply = await desk.createBill(
    { patientId: values.patient!, reference: values.reference!, items },
    { timeoutMs: Number(values['timeout-ms']) },
  );
  if (values.json) printJson(reply);
  if (isErrorReply(reply)) return values.json ? EXIT_FAILURE : failure(describeError(reply));
  const { billId, total } = reply.body;
  if (!values.json) printLine(`bill ${billId} created: reference ${values.reference}, ${items.length} item${items.length === 1 ? '' : 's'}, ${yuan(total)} CNY`);
  if (values['wait-paid-ms'] === undefined) return EXIT_OK;
  if (!values.json) printLine(`waiting for bill ${billId} to be paid`);
  const paid = await desk.waitForPaid(billId, Number(values['wait-paid-ms']));
  if (values.json) printJson({ type: 'bill.paid', body: paid });
  else printLine(`bill ${billId} paid: order ${paid.orderId}, ${yuan(paid.amount)} CNY at ${paid.paidAt}`);
  return EXIT_OK;
}

// CODE:NAME:QTY:UNIT_PRICE_FEN; the name may itself hold colons.
export function parseItem(text: string): BillItem {
  const parts = text.split(':');
  if (parts.length < 4) throw new UsageError(`--item ${JSON.stringify(text)}: expected CODE:NAME:QTY:UNIT_PRICE_FEN`);
  const code = parts[0]!;
  const unitPrice = nonNegativeInt(parts[parts.length - 1]!, `unit price of --item ${code}`);
  const quantity = positiveInt(parts[parts.length - 2]!, `quantity of --item ${code}`);
  const name = parts.slice(1, -2).join(':');
  if (code === '' || name === '') throw new UsageError(`--item ${JSON.stringify(text)}: code and name may not be empty`);
  return { code, name, quantity, unitPrice };
}
