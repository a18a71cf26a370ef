// The inner side played by a test over the real ferry channel, for the suites that run a
// real outer side (relay, payment contract): it records every record it receives, sends
// orders and refunds, and answers notifications as the test says.
import type net from 'node:net';
import * as assert from 'uvu/assert';
import type { Clock } from '../../runtime/common/clock.js';
import type { Logger } from '../../runtime/common/logger.js';
import { listenChannel, type ChannelConnection } from '../../runtime/channel/connection.js';
import type { ChannelRecord, NotificationRecord, OrderRecord, OutcomeRecord, RefundOutcomeRecord, RefundRecord } from '../../runtime/channel/records.js';

// accept: acked as accepted; refuse: acked as refused (an unknown order); none: never acked.
export type NotificationAnswer = 'accept' | 'refuse' | 'none';

export class PlayedInnerSide {
  readonly records: ChannelRecord[] = [];
  connection: ChannelConnection | undefined;
  notificationAnswer: NotificationAnswer = 'accept';
  private server: net.Server | undefined;

  constructor(private readonly socketPath: string, private readonly log: Logger) {}

  async listen(clock?: Clock): Promise<void> {
    this.server = await listenChannel(this.socketPath, this.log, (c) => {
      this.connection = c;
      c.on('record', (r) => this.onRecord(c, r));
    }, clock);
  }

  async close(): Promise<void> {
    this.connection?.close();
    this.connection = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  send(record: ChannelRecord): void {
    assert.ok(this.connection?.send(record), 'inner side is connected');
  }

  order(orderId: string, over: Partial<OrderRecord> = {}): OrderRecord {
    const order: OrderRecord = { k: 'order', orderId, amount: 1200, currency: 'CNY', method: 'code', description: 'registration INT', authCode: '134567890123', ...over };
    this.send(order);
    return order;
  }

  refund(refundId: string, orderId: string, amount: number): RefundRecord {
    const refund: RefundRecord = { k: 'refund', refundId, orderId, amount, currency: 'CNY', reason: 'cancelled' };
    this.send(refund);
    return refund;
  }

  outcomes(orderId: string): OutcomeRecord[] {
    return this.records.filter((r): r is OutcomeRecord => r.k === 'outcome' && r.orderId === orderId);
  }

  final(orderId: string): OutcomeRecord | undefined {
    return this.outcomes(orderId).find((o) => o.status === 'succeeded' || o.status === 'failed');
  }

  refundOutcomes(refundId: string): RefundOutcomeRecord[] {
    return this.records.filter((r): r is RefundOutcomeRecord => r.k === 'refund.outcome' && r.refundId === refundId);
  }

  notifications(): NotificationRecord[] {
    return this.records.filter((r): r is NotificationRecord => r.k === 'notification');
  }

  private onRecord(c: ChannelConnection, record: ChannelRecord): void {
    this.records.push(record);
    if (record.k !== 'notification' || this.notificationAnswer === 'none') return;
    const accepted = this.notificationAnswer === 'accept';
    c.send({ k: 'notification.ack', notifyId: record.notifyId, accepted, ...(accepted ? {} : { reason: 'unknown order' }) });
  }
}
