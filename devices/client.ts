// The device side of the medical-network MQTT contract (docs/design.md, "The medical-side contract"):
// one connection per device, requests published at QoS 1 on dev/{id}/up/{type},
// replies and unsolicited messages read on dev/{id}/down.
//
// Delivery is at-least-once end to end: a request is resent with the SAME id until a
// reply naming it arrives, and the gateway's idempotency turns the copies into one
// action. The client therefore never needs to know whether a copy was lost on the way
// up or its answer on the way down.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { PROTOCOL_VERSION, topics, type ErrorBody, type Reply, type Request } from './protocol.js';
import { assert } from '../runtime/common/errors.js';

// Named limits.
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000; // a gateway that is starting up gets this long
export const RECONNECT_PERIOD_MS = 1_000; // a kiosk that lost its link retries once a second
export const KEEPALIVE_S = 30; // detects a dead link within 45 s (1.5 x keepalive, MQTT 3.1.2.10)
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000; // a patient at a kiosk waits no longer
// A request is resent later than the gateway waits for a payment's answer (gateway.yaml
// limits.replyWaitMs, 3 s by default), plus a round trip. A copy that arrives while the
// first is still waiting is answered at once from the store (`pending`), and a resend
// that raced the wait would hand the kiosk `pending` just before the real answer. The
// gateway's wait stays what it is, since it is how long a patient waits for a wallet.
export const DEFAULT_RESEND_MS = 4_000;
// Ids of down messages seen lately. The gateway redelivers an outbox message (bill.paid,
// a late payment.result) under the same id until the device acknowledges it, so a copy
// may come twice across a reconnect; the second is dropped. Bounded: the oldest go.
export const SEEN_IDS_MAX = 1_000;
export const MIN_RESEND_MS = 50; // below this a resend races its own reply
export const MAX_SENDS_PER_REQUEST = 200; // copies of one request; bounds the offline queue
export const MAX_WAITERS = 1_000; // concurrent request()/waitFor() on one client

// MQTT 3.1.1 section 3.2.2.3: CONNACK return codes of a refused connection.
const CONNACK_REFUSALS: Readonly<Record<number, string>> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad username or password',
  5: 'not authorized',
};

export type DeviceClientErrorCode =
  | 'DEVICE_CONNECT_REFUSED' // the broker answered CONNACK with a refusal: do not retry
  | 'DEVICE_CONNECT_TIMEOUT' // no accepted connection within connectTimeoutMs
  | 'DEVICE_SUBSCRIBE_REFUSED' // the broker did not grant a subscription
  | 'DEVICE_TIMEOUT' // no reply (or no matching message) in time
  | 'DEVICE_CLOSED'; // the client was closed while waiting

export class DeviceClientError extends Error {
  readonly code: DeviceClientErrorCode;
  constructor(code: DeviceClientErrorCode, message: string) {
    super(message);
    this.name = 'DeviceClientError';
    this.code = code;
  }
}

export interface ConnectOptions {
  // mqtt://host:1883 or mqtts://host:8883; or the addresses of an active/standby pair
  // (docs/ha.md): the client tries them in turn, on the first connection and on every
  // reconnect, so it finds whichever box is active (a standby does not listen).
  url: string | readonly string[];
  id: string; // device id = MQTT client id = username
  password?: string; // absent when the device authenticates with a TLS client certificate
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  connectTimeoutMs?: number;
  clean?: boolean; // default true
  // Sees every down message from the very first, including the outbox the gateway sends
  // while connect() subscribes, and before MQTT.js acknowledges it: a listener added
  // after connect() gets those replayed, but only once they are acknowledged.
  onMessage?: (reply: Reply, client: DeviceClient) => void;
}

export interface RequestOptions {
  id?: string; // reuse an id to re-ask (the gateway answers with the current state)
  timeoutMs?: number; // overall, across all resends
  resendMs?: number;
}

export type ConnectionStatus = 'connected' | 'offline' | 'refused';

type Waiter = {
  predicate: (reply: Reply) => boolean;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
};

// 96 random bits in 17 characters of letters and digits: short on the wire, and never
// a long run of digits that the gateway's card guard could take for a card number.
// The gateway's id pattern has no `_`, hence the swap.
export function newRequestId(): string {
  return `r${randomBytes(12).toString('base64url').replaceAll('_', '.')}`;
}

export class DeviceClient {
  readonly id: string;
  readonly downTopic: string;
  private readonly mqtt: MqttClient;
  private readonly events = new EventEmitter();
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsettledPublishes = new Set<(err: Error) => void>();
  private closed = false;
  private invalidCount = 0;
  private duplicateCount = 0;
  private readonly seen = new Set<string>(); // insertion order is age order
  // Down messages that came before anyone listened for 'message': the gateway sends a
  // device's waiting outbox as soon as it subscribes, which is inside connect(). They
  // go to the first 'message' listener; null once there has been one.
  private early: Reply[] | null = [];

  private constructor(id: string, client: MqttClient) {
    this.id = id;
    this.downTopic = topics.down(id);
    this.mqtt = client;
    client.on('message', (topic, payload) => this.onPublish(topic, payload));
    client.on('connect', () => {
      setNoDelay(client);
      this.events.emit('status', 'connected');
    });
    client.on('offline', () => this.events.emit('status', 'offline'));
    client.on('error', (err) => {
      if (isConnackRefusal(err)) this.events.emit('status', 'refused', describeRefusal(err));
    });
  }

  static async connect(opts: ConnectOptions): Promise<DeviceClient> {
    assert(opts.id.length > 0, 'a device id is required');
    assert(!opts.id.includes('/') && !opts.id.includes('+') && !opts.id.includes('#'), 'a device id is one topic level');
    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    assert(connectTimeoutMs > 0, 'connectTimeoutMs is positive');
    const urls = gatewayUrls(opts.url);
    const client = mqtt.connect(urls[0]!.href, mqttOptions(opts, connectTimeoutMs, urls));
    // The first stream exists now; reconnects get noDelay in the 'connect' handler.
    setNoDelay(client);
    await waitForFirstConnect(client, opts.id, connectTimeoutMs);
    const device = new DeviceClient(opts.id, client);
    const { onMessage } = opts;
    if (onMessage) device.on('message', (reply: Reply) => onMessage(reply, device));
    try {
      await device.subscribe(device.downTopic);
    } catch (err) {
      await device.close();
      throw err;
    }
    return device;
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  // Down messages that were not valid envelopes (dropped, counted for tests and logs).
  get invalidMessages(): number {
    return this.invalidCount;
  }

  // Down messages dropped because one with the same id came before.
  get duplicateMessages(): number {
    return this.duplicateCount;
  }

  on(event: 'message', listener: (reply: Reply) => void): this;
  on(event: 'topic', listener: (topic: string, payload: Buffer) => void): this;
  on(event: 'status', listener: (status: ConnectionStatus, detail?: string) => void): this;
  on(event: string, listener: (...args: any[]) => void): this {
    this.events.on(event, listener);
    if (event === 'message' && this.early) {
      const early = this.early;
      this.early = null;
      queueMicrotask(() => early.forEach((reply) => listener(reply)));
    }
    return this;
  }

  off(event: 'message' | 'topic' | 'status', listener: (...args: any[]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  // Sends a request and resends the same envelope every resendMs until a reply with
  // re === id arrives. Error replies resolve: they are answers; check reply.type.
  async request<B = Record<string, unknown>>(type: string, body: object, opts: RequestOptions = {}): Promise<Reply<B>> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const resendMs = opts.resendMs ?? DEFAULT_RESEND_MS;
    assert(timeoutMs > 0, 'timeoutMs is positive');
    assert(resendMs >= MIN_RESEND_MS, `resendMs is at least ${MIN_RESEND_MS}`);
    const envelope = this.envelope(type, body, opts.id);
    const answered = this.waitFor((r) => r.re === envelope.id, timeoutMs, `reply to ${type} ${envelope.id}`);
    answered.catch(() => {}); // awaited below; this only keeps a throwing send() from leaving it unhandled
    let sends = 0;
    const send = (): void => {
      sends += 1;
      // After the last copy the request still waits for a reply until its timeout.
      if (sends >= MAX_SENDS_PER_REQUEST) clearInterval(resend);
      this.publishEnvelope(envelope, resendMs).catch(() => {
        // A lost or unacknowledged copy is what the resend is for.
      });
    };
    const resend = setInterval(send, resendMs);
    this.timers.add(resend);
    try {
      send();
      return (await answered) as Reply<B>;
    } finally {
      clearInterval(resend);
      this.timers.delete(resend);
    }
  }

  // Publishes one copy of a request and does not wait for its reply; resolves with the
  // request id once the broker has acknowledged it (PUBACK).
  async send(type: string, body: object, opts: { id?: string; timeoutMs?: number } = {}): Promise<string> {
    const envelope = this.envelope(type, body, opts.id);
    await this.publishEnvelope(envelope, opts.timeoutMs ?? DEFAULT_RESEND_MS);
    return envelope.id;
  }

  // Publishes bytes as they are, to any topic: for tests of what the gateway refuses.
  publishRaw(topic: string, payload: string | Buffer, timeoutMs = DEFAULT_RESEND_MS): Promise<void> {
    return this.publishWithTimeout(topic, payload, timeoutMs);
  }

  // Resolves with the first down message (from now on) that satisfies the predicate.
  waitFor<B = Record<string, unknown>>(predicate: (reply: Reply) => boolean, timeoutMs: number, what = 'message'): Promise<Reply<B>> {
    assert(timeoutMs > 0, 'timeoutMs is positive');
    if (this.closed) return Promise.reject(new DeviceClientError('DEVICE_CLOSED', `${this.id}: client closed`));
    assert(this.waiters.size < MAX_WAITERS, `at most ${MAX_WAITERS} waiters per client`);
    return new Promise<Reply<B>>((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(new DeviceClientError('DEVICE_TIMEOUT', `${this.id}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.timers.add(timer);
      const waiter: Waiter = {
        predicate,
        resolve: (reply) => { finish(); resolve(reply as Reply<B>); },
        reject: (err) => { finish(); reject(err); },
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  // Subscribes to a shared topic the role may read (slots/#, dept/{dept}/inbox);
  // its messages arrive as 'topic' events.
  subscribe(filter: string, timeoutMs = DEFAULT_RESEND_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new DeviceClientError('DEVICE_TIMEOUT', `${this.id}: no SUBACK for ${filter} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.mqtt.subscribe(filter, { qos: 1 }, (err, granted, packet) => {
        clearTimeout(timer);
        // MQTT 3.1.1 section 3.9.3: 0x80 in a SUBACK is a refused subscription. MQTT.js
        // reports it as an error too, but still hands over the SUBACK, which tells a
        // refusal apart from a broken connection.
        const codes = packet && 'granted' in packet && Array.isArray(packet.granted) ? packet.granted as number[] : undefined;
        if (codes?.includes(0x80) || (!err && (!granted || granted.some((g) => g.qos === 0x80)))) {
          return reject(new DeviceClientError('DEVICE_SUBSCRIBE_REFUSED', `${this.id}: subscription to ${filter} refused`));
        }
        if (err) return reject(err);
        resolve();
      });
    });
  }

  // Cuts the TCP connection as a failing network would; MQTT.js then reconnects after
  // RECONNECT_PERIOD_MS, as after any link loss. For reconnect storms (sim/load/).
  dropLink(): void {
    const stream = this.mqtt.stream as Partial<Socket> | undefined;
    if (stream && typeof stream.destroy === 'function') stream.destroy();
  }

  // Always ends the socket, and fails whatever still waits.
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closedError = new DeviceClientError('DEVICE_CLOSED', `${this.id}: client closed`);
    for (const waiter of [...this.waiters]) waiter.reject(closedError);
    for (const fail of [...this.unsettledPublishes]) fail(closedError);
    await endClient(this.mqtt);
  }

  private envelope(type: string, body: object, id?: string): Request {
    assert(type.length > 0 && !type.includes('/'), 'a message type is one topic level');
    return { v: PROTOCOL_VERSION, id: id ?? newRequestId(), type, ts: new Date().toISOString(), body: body as Record<string, unknown> };
  }

  private publishEnvelope(envelope: Request, timeoutMs: number): Promise<void> {
    return this.publishWithTimeout(topics.up(this.id, envelope.type), JSON.stringify(envelope), timeoutMs);
  }

  // MQTT.js never calls back a QoS 1 publish whose connection the broker closed, so
  // every publish gets its own deadline.
  private publishWithTimeout(topic: string, payload: string | Buffer, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new DeviceClientError('DEVICE_CLOSED', `${this.id}: client closed`));
    return new Promise((resolve, reject) => {
      const settle = (err?: Error | null): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        if (!this.unsettledPublishes.delete(settle)) return; // already settled
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new DeviceClientError('DEVICE_TIMEOUT', `${this.id}: no PUBACK on ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.timers.add(timer);
      this.unsettledPublishes.add(settle);
      this.mqtt.publish(topic, payload, { qos: 1 }, (err) => settle(err));
    });
  }

  private onPublish(topic: string, payload: Buffer): void {
    if (topic !== this.downTopic) {
      this.events.emit('topic', topic, payload);
      return;
    }
    const reply = parseReply(payload);
    if (!reply) {
      this.invalidCount += 1;
      return;
    }
    if (this.seen.has(reply.id)) {
      this.duplicateCount += 1;
      return;
    }
    this.seen.add(reply.id);
    if (this.seen.size > SEEN_IDS_MAX) this.seen.delete(this.seen.values().next().value!);
    if (this.early && this.events.listenerCount('message') === 0 && this.early.length < SEEN_IDS_MAX) this.early.push(reply);
    this.events.emit('message', reply);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(reply)) waiter.resolve(reply);
    }
  }
}

export function parseReply(payload: Buffer): Reply | null {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Record<string, unknown>;
  if (r.v !== PROTOCOL_VERSION || typeof r.type !== 'string') return null;
  if (typeof r.body !== 'object' || r.body === null || Array.isArray(r.body)) return null;
  if (typeof r.id !== 'string') return null;
  if (r.re !== undefined && typeof r.re !== 'string') return null;
  return value as Reply;
}

// The gateway addresses of a ConnectOptions url, checked: each an mqtt: or mqtts: URL
// with a host, all of one scheme (the TLS options apply to every one).
export function gatewayUrls(url: string | readonly string[]): readonly URL[] {
  const list = typeof url === 'string' ? [url] : url;
  assert(list.length > 0, 'at least one gateway URL');
  const urls = list.map((u) => {
    assert(URL.canParse(u), `${u} is a URL`);
    const parsed = new URL(u);
    assert(parsed.protocol === 'mqtt:' || parsed.protocol === 'mqtts:', `${u} is an mqtt: or mqtts: URL`);
    assert(parsed.hostname.length > 0, `${u} names a host`);
    return parsed;
  });
  assert(urls.every((u) => u.protocol === urls[0]!.protocol), 'the gateway URLs are all mqtt: or all mqtts:');
  return urls;
}

// MQTT.js walks `servers` one entry per connection attempt, from the first.
function mqttServers(urls: readonly URL[]): NonNullable<IClientOptions['servers']> {
  return urls.map((u) => ({
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port || (u.protocol === 'mqtts:' ? 8883 : 1883)),
    protocol: u.protocol === 'mqtts:' ? 'mqtts' : 'mqtt',
  }));
}

function mqttOptions(opts: ConnectOptions, connectTimeoutMs: number, urls: readonly URL[]): IClientOptions {
  const options: IClientOptions = {
    protocolVersion: 4,
    clientId: opts.id,
    username: opts.id,
    clean: opts.clean ?? true,
    keepalive: KEEPALIVE_S,
    reconnectPeriod: RECONNECT_PERIOD_MS,
    connectTimeout: connectTimeoutMs,
    resubscribe: true,
    // A refused CONNACK means wrong credentials or a disabled device: retrying cannot help.
    reconnectOnConnackError: false,
  };
  if (urls.length > 1) options.servers = mqttServers(urls);
  if (opts.password !== undefined) options.password = opts.password;
  if (opts.ca !== undefined) options.ca = opts.ca;
  if (opts.cert !== undefined) options.cert = opts.cert;
  if (opts.key !== undefined) options.key = opts.key;
  return options;
}

// Waits for the first CONNACK. A refusal rejects at once; a network error (broker not
// up yet) lets MQTT.js retry until the deadline.
function waitForFirstConnect(client: MqttClient, id: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError = 'no answer';
    const timer = setTimeout(() => {
      fail(new DeviceClientError('DEVICE_CONNECT_TIMEOUT', `${id}: could not connect within ${timeoutMs} ms (${lastError})`));
    }, timeoutMs);
    const onConnect = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      if (isConnackRefusal(err)) {
        fail(new DeviceClientError('DEVICE_CONNECT_REFUSED', `${id}: connection refused by the broker: ${describeRefusal(err)}`));
      } else {
        lastError = err.message;
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
    };
    const fail = (err: Error): void => {
      cleanup();
      endClient(client).then(() => reject(err), () => reject(err));
    };
    client.on('connect', onConnect);
    client.on('error', onError);
  });
}

function isConnackRefusal(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && code in CONNACK_REFUSALS && err.message.startsWith('Connection refused');
}

function describeRefusal(err: Error): string {
  const code = (err as { code?: unknown }).code as number;
  return `${CONNACK_REFUSALS[code] ?? 'refused'} (CONNACK ${code})`;
}

// Without TCP_NODELAY, Nagle's algorithm holds a small publish until the previous
// segment is acknowledged, and delayed ACKs make that a ~40 ms stall per request.
function setNoDelay(client: MqttClient): void {
  const stream = client.stream as Partial<Socket> | undefined;
  if (stream && typeof stream.setNoDelay === 'function') stream.setNoDelay(true);
}

// end(true) destroys the stream at once rather than waiting for in-flight acks.
function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    client.end(true, {}, () => resolve());
  });
}

// An `error` reply: the gateway refused the request (docs/design.md, "The medical-side contract").
export function isErrorReply(reply: Reply<unknown>): reply is Reply<ErrorBody> {
  return reply.type === 'error';
}
