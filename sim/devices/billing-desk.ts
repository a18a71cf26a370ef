// A billing desk: sends itemised bills to the gateway and hears `bill.paid` when a
// patient has paid one. `bill.paid` is delivered at least once, so it is kept per bill.
import { DeviceClient, type ConnectOptions, type RequestOptions } from '../../devices/client.js';
import type { BillCreatedBody, BillItem, BillPaidBody, BillStateBody, BillStatusBody, ErrorBody, Reply } from '../../devices/protocol.js';
import { assert } from '../../runtime/common/errors.js';

export type BillCreatedAnswer = Reply<BillCreatedBody> | Reply<ErrorBody>;

export interface NewBill {
  patientId: string;
  reference: string; // the billing system's own bill number
  items: BillItem[];
}

export const MAX_PAID_BILLS_KEPT = 10_000; // a long simulation forgets the oldest

// The sum the gateway checks: quantity x unit price, in fen.
export function billTotal(items: readonly BillItem[]): number {
  let total = 0;
  for (const item of items) {
    assert(Number.isSafeInteger(item.quantity) && item.quantity > 0, 'quantity is a positive integer');
    assert(Number.isSafeInteger(item.unitPrice) && item.unitPrice >= 0, 'unit price is whole fen');
    total += item.quantity * item.unitPrice;
  }
  assert(Number.isSafeInteger(total), 'total is a safe integer');
  return total;
}

export class BillingDeskSim {
  readonly client: DeviceClient;
  private readonly paid = new Map<string, BillPaidBody>();

  constructor(client: DeviceClient) {
    this.client = client;
    client.on('message', (reply) => {
      if (reply.type === 'bill.paid') this.remember(reply.body as unknown as BillPaidBody);
    });
  }

  static async connect(opts: ConnectOptions): Promise<BillingDeskSim> {
    return new BillingDeskSim(await DeviceClient.connect(opts));
  }

  createBill(bill: NewBill, opts?: RequestOptions): Promise<BillCreatedAnswer> {
    assert(bill.items.length > 0, 'a bill has at least one item');
    const body = { ...bill, total: billTotal(bill.items), currency: 'CNY' as const };
    return this.client.request('bill.create', body, opts) as Promise<BillCreatedAnswer>;
  }

  // Asks again for one of the desk's own bills (by id or reference): for a desk that
  // missed bill.paid.
  billStatus(by: BillStatusBody, opts?: RequestOptions): Promise<Reply<BillStateBody> | Reply<ErrorBody>> {
    return this.client.request('bill.status', by, opts) as Promise<Reply<BillStateBody> | Reply<ErrorBody>>;
  }

  paidBills(): BillPaidBody[] {
    return [...this.paid.values()];
  }

  async waitForPaid(billId: string, timeoutMs: number): Promise<BillPaidBody> {
    const known = this.paid.get(billId);
    if (known) return known;
    const reply = await this.client.waitFor((r) => r.type === 'bill.paid' && r.body.billId === billId, timeoutMs, `bill.paid for ${billId}`);
    return reply.body as unknown as BillPaidBody;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private remember(body: BillPaidBody): void {
    if (typeof body.billId !== 'string' || this.paid.has(body.billId)) return;
    if (this.paid.size >= MAX_PAID_BILLS_KEPT) {
      const oldest = this.paid.keys().next().value;
      if (oldest !== undefined) this.paid.delete(oldest);
    }
    this.paid.set(body.billId, body);
  }
}
