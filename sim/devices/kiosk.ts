// A self-service kiosk: finds a patient's open bills and pays one with a wallet code
// (the patient shows a payment code) or by scan-to-pay (the kiosk shows a QR code).
//
// A scan-to-pay answer is `pending`; the final `payment.result` comes later on the down
// topic. The kiosk does not rely on that one message alone: it re-asks with the SAME
// request id every few seconds, which the gateway answers with the order's current
// state, so a lost final message costs a few seconds, not the payment.
import { randomInt } from 'node:crypto';
import { DeviceClient, DeviceClientError, isErrorReply, type ConnectOptions, type RequestOptions, newRequestId } from '../../devices/client.js';
import type { BillListBody, BillSummary, ErrorBody, PaymentRequestBody, PaymentResultBody, RegistrationBookedBody, RegistrationCancelledBody, RegistrationHeldBody, RegistrationListBody, RegistrationQueryBody, RegistrationRequestBody, Reply } from '../../devices/protocol.js';
import { assert } from '../../runtime/common/errors.js';

export const DEFAULT_WAIT_FINAL_MS = 120_000; // a patient scanning a QR code gets two minutes
export const DEFAULT_RECHECK_MS = 3_000; // how often a pending payment is re-asked
export const MIN_RECHECK_MS = 50;

export type PaymentAnswer = Reply<PaymentResultBody> | Reply<ErrorBody>;
export type BillListAnswer = Reply<BillListBody> | Reply<ErrorBody>;

export interface PayBillArgs {
  billId?: string; // what is paid: a bill,
  registrationId?: string; // or a registration hold
  amount: number; // fen
  method: 'code' | 'qr';
  authCode?: string; // for 'code'; a random accepted one is made up when absent
}

export interface PayBillOptions {
  waitFinalMs?: number; // 0: return the first answer even if it is pending
  recheckMs?: number;
  requestId?: string;
  request?: RequestOptions; // timeout and resend of each single request
  onPending?: (reply: Reply<PaymentResultBody>) => void; // e.g. show the QR code
}

export interface RegisterOutcome {
  held: Reply<RegistrationHeldBody> | Reply<ErrorBody>;
  payment?: PayOutcome;
  booked?: Reply<RegistrationBookedBody>; // when the payment succeeded and the slot was booked
}

export interface PayOutcome {
  requestId: string;
  reply: PaymentAnswer; // final result, an error, or (waitFinalMs 0) the pending answer
  pending?: Reply<PaymentResultBody>; // the first pending answer, if there was one
  bill?: BillSummary; // set by payFirstOpenBill
}

export class KioskSim {
  readonly client: DeviceClient;

  constructor(client: DeviceClient) {
    this.client = client;
  }

  static async connect(opts: ConnectOptions): Promise<KioskSim> {
    return new KioskSim(await DeviceClient.connect(opts));
  }

  // The patient's registrations with their visit numbers: for a kiosk that missed
  // registration.booked.
  queryRegistrations(q: RegistrationQueryBody, opts?: RequestOptions): Promise<Reply<RegistrationListBody> | Reply<ErrorBody>> {
    return this.client.request('registration.query', q, opts) as Promise<Reply<RegistrationListBody> | Reply<ErrorBody>>;
  }

  queryBills(patientId: string, opts?: RequestOptions): Promise<BillListAnswer> {
    return this.client.request('bill.query', { patientId }, opts) as Promise<BillListAnswer>;
  }

  async payBill(args: PayBillArgs, opts: PayBillOptions = {}): Promise<PayOutcome> {
    const waitFinalMs = opts.waitFinalMs ?? DEFAULT_WAIT_FINAL_MS;
    const recheckMs = opts.recheckMs ?? DEFAULT_RECHECK_MS;
    assert(waitFinalMs >= 0, 'waitFinalMs is not negative');
    assert(recheckMs >= MIN_RECHECK_MS, `recheckMs is at least ${MIN_RECHECK_MS}`);
    const requestId = opts.requestId ?? newRequestId();
    const body = paymentBody(args);
    const finals = new FinalResults(this.client, requestId);
    try {
      const first = (await this.client.request('payment.request', body, { ...opts.request, id: requestId })) as PaymentAnswer;
      if (isErrorReply(first) || first.body.status !== 'pending') return { requestId, reply: first };
      opts.onPending?.(first);
      if (waitFinalMs === 0) return { requestId, reply: first, pending: first };
      const reply = await this.awaitFinal(first.body.orderId, finals, { body, requestId, waitFinalMs, recheckMs, request: opts.request });
      return { requestId, reply, pending: first };
    } finally {
      finals.stop();
    }
  }

  // Pays the patient's oldest open bill in full; null when there is none.
  async payFirstOpenBill(patientId: string, method: 'code' | 'qr', opts: PayBillOptions & { authCode?: string } = {}): Promise<PayOutcome | null> {
    const list = await this.queryBills(patientId, opts.request);
    if (isErrorReply(list)) return { requestId: list.re ?? '', reply: list };
    const bill = list.body.bills.find((b) => b.status === 'open');
    if (!bill) return null;
    const args: PayBillArgs = { billId: bill.billId, amount: bill.total, method };
    if (opts.authCode !== undefined) args.authCode = opts.authCode;
    return { ...(await this.payBill(args, opts)), bill };
  }

  // registration.request: a hold on a slot, to be paid before it expires.
  register(req: RegistrationRequestBody, opts?: RequestOptions): Promise<Reply<RegistrationHeldBody> | Reply<ErrorBody>> {
    return this.client.request('registration.request', req, opts) as Promise<Reply<RegistrationHeldBody> | Reply<ErrorBody>>;
  }

  cancelRegistration(registrationId: string, patientId: string, opts?: RequestOptions & { id?: string }): Promise<Reply<RegistrationCancelledBody> | Reply<ErrorBody>> {
    return this.client.request('registration.cancel', { registrationId, patientId }, opts) as Promise<Reply<RegistrationCancelledBody> | Reply<ErrorBody>>;
  }

  // A patient registers and pays at once: the hold, the payment, and the booking with
  // its visit number (which arrives as registration.booked once the payment succeeded).
  async registerAndPay(req: RegistrationRequestBody, method: 'code' | 'qr', opts: PayBillOptions & { authCode?: string; bookedWaitMs?: number } = {}): Promise<RegisterOutcome> {
    const held = await this.register(req, opts.request);
    if (isErrorReply(held)) return { held };
    const booked = this.client.waitFor((m) => m.type === 'registration.booked' && (m.body as { registrationId?: string }).registrationId === held.body.registrationId,
      opts.bookedWaitMs ?? DEFAULT_WAIT_FINAL_MS, `booking of ${held.body.registrationId}`).catch(() => undefined);
    const args: PayBillArgs = { registrationId: held.body.registrationId, amount: held.body.fee, method };
    if (opts.authCode !== undefined) args.authCode = opts.authCode;
    const payment = await this.payBill(args, opts);
    if (isErrorReply(payment.reply) || payment.reply.body.status !== 'succeeded') return { held, payment };
    return { held, payment, booked: (await booked) as Reply<RegistrationBookedBody> | undefined };
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async awaitFinal(
    orderId: string,
    finals: FinalResults,
    ask: { body: PaymentRequestBody; requestId: string; waitFinalMs: number; recheckMs: number; request: RequestOptions | undefined },
  ): Promise<PaymentAnswer> {
    const deadline = Date.now() + ask.waitFinalMs;
    for (;;) {
      const seen = finals.find(orderId);
      if (seen) return seen;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new DeviceClientError('DEVICE_TIMEOUT', `${this.client.id}: payment ${orderId} still pending after ${ask.waitFinalMs} ms`);
      }
      const pushed = await finals.next(orderId, Math.min(ask.recheckMs, remainingMs));
      if (pushed) return pushed;
      // No final message in this interval: re-ask; the same id gets the current state.
      const again = (await this.client.request('payment.request', ask.body, { ...ask.request, id: ask.requestId })) as PaymentAnswer;
      if (isErrorReply(again) || again.body.status !== 'pending') return again;
    }
  }
}

// Collects final payment results for one request from the moment the request is sent,
// so that a final message arriving right after the pending answer is not missed.
class FinalResults {
  private readonly seen: Reply<PaymentResultBody>[] = [];
  private readonly listener = (reply: Reply): void => {
    if (reply.type !== 'payment.result') return;
    const result = reply as unknown as Reply<PaymentResultBody>;
    if (result.body.status === 'pending') return;
    if (reply.re === this.requestId || this.seen.length < MAX_UNMATCHED_FINALS) this.seen.push(result);
  };

  constructor(private readonly client: DeviceClient, private readonly requestId: string) {
    client.on('message', this.listener);
  }

  find(orderId: string): Reply<PaymentResultBody> | undefined {
    return this.seen.find((r) => r.re === this.requestId || r.body.orderId === orderId);
  }

  async next(orderId: string, timeoutMs: number): Promise<Reply<PaymentResultBody> | undefined> {
    try {
      await this.client.waitFor((r) => r.type === 'payment.result' && this.find(orderId) !== undefined, timeoutMs, `final result of ${orderId}`);
      return this.find(orderId);
    } catch (err) {
      if (err instanceof DeviceClientError && err.code === 'DEVICE_TIMEOUT') return undefined;
      throw err;
    }
  }

  stop(): void {
    this.client.off('message', this.listener);
  }
}

// Final results of other orders kept while waiting (another kiosk flow on the same client).
const MAX_UNMATCHED_FINALS = 100;

function paymentBody(args: PayBillArgs): PaymentRequestBody {
  assert(Number.isSafeInteger(args.amount) && args.amount >= 0, 'amount is whole fen');
  assert((args.billId === undefined) !== (args.registrationId === undefined), 'a payment pays a bill or a registration');
  const body: PaymentRequestBody = {
    ...(args.billId !== undefined ? { billId: args.billId } : { registrationId: args.registrationId! }),
    amount: args.amount, currency: 'CNY', method: args.method,
  };
  if (args.method === 'code') body.authCode = args.authCode ?? simulatedAuthCode();
  else assert(args.authCode === undefined, 'a QR payment has no wallet code');
  return body;
}

// A wallet's one-time payment code as the payment simulator accepts it: six digits, and
// never ending in 0000 (the simulator's "declined" codes). Six digits can never pass
// for a card number (13 to 19), which the gateway would refuse.
export function simulatedAuthCode(): string {
  return `${randomInt(100_000, 1_000_000 - 1)}`.replace(/0$/, '1');
}
