// Signed asynchronous notifications, as a payment server sends them: POST to the
// gateway's notification URL, retried with capped backoff until a 200 or the attempts
// run out. Each delivery is recorded so that tests can see what the gateway answered.
import http from 'node:http';
import https from 'node:https';
import { backoffDelayMs, sleep } from '../../runtime/common/backoff.js';
import { systemClock, type Clock } from '../../runtime/common/clock.js';
import { systemRandom, type Random } from '../../runtime/common/random.js';
import { signRequest } from '../../runtime/common/signature.js';
import type { NotificationBody } from './types.js';

export interface NotifyRetry {
  attemptsMax: number;
  baseMs: number;
  maxMs: number;
  timeoutMs: number;
}

// Real payment servers retry for hours; the simulator gives up sooner so that a test
// or a demo with no gateway listening does not keep timers alive for long.
export const NOTIFY_RETRY_DEFAULT: Readonly<NotifyRetry> = Object.freeze({
  attemptsMax: 12,
  baseMs: 100,
  maxMs: 5_000,
  // Longer than the gateway's own wait for its inner side (5 s), so that its 503 arrives.
  timeoutMs: 10_000,
});

// Bounds the record of deliveries kept for inspection.
const DELIVERIES_KEPT_MAX = 10_000;
const ANSWER_BYTES_MAX = 4 * 1024;

export interface Delivery {
  notifyId: string;
  orderId: string;
  statuses: number[]; // the HTTP status of each attempt, 0 for no answer
  delivered: boolean;
  finished: boolean;
}

export class Notifier {
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly log: Delivery[] = [];

  constructor(
    private readonly secret: string,
    private readonly url: () => string | undefined,
    private readonly retry: NotifyRetry = NOTIFY_RETRY_DEFAULT,
    private readonly clock: Clock = systemClock,
    private readonly random: Random = systemRandom(),
  ) {}

  send(body: NotificationBody): void {
    const delivery: Delivery = { notifyId: body.notifyId, orderId: body.orderId, statuses: [], delivered: false, finished: false };
    if (this.log.length >= DELIVERIES_KEPT_MAX) this.log.shift();
    this.log.push(delivery);
    const run = this.deliver(body, delivery).finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  deliveries(): Delivery[] {
    return this.log.map((d) => ({ ...d, statuses: [...d.statuses] }));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(body: NotificationBody, delivery: Delivery): Promise<void> {
    const text = JSON.stringify(body);
    for (let attempt = 0; attempt < this.retry.attemptsMax && !this.stopping.signal.aborted; attempt++) {
      if (attempt > 0) await sleep(backoffDelayMs(attempt, { ...this.retry, random: this.random }), this.stopping.signal, this.clock);
      if (this.stopping.signal.aborted) break;
      const status = await this.post(text);
      delivery.statuses.push(status);
      if (status === 200) {
        delivery.delivered = true;
        break;
      }
    }
    delivery.finished = true;
  }

  // Resolves with the answer's status, or 0 when there is no URL or no answer.
  private post(text: string): Promise<number> {
    const target = this.url();
    if (target === undefined) return Promise.resolve(0);
    const url = new URL(target);
    const path = url.pathname + url.search;
    const headers = { ...signRequest(this.secret, 'POST', path, text), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = lib.request(url, { method: 'POST', headers, agent: false, timeout: this.retry.timeoutMs, signal: this.stopping.signal }, (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > ANSWER_BYTES_MAX) res.destroy();
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
        res.on('close', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end(text);
    });
  }
}
