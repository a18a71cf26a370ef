// The gap: every message a device publishes passes these steps, in this order, before
// anything else in the gateway sees it (docs/design.md, "The medical-side contract"). Each refusal is
// answered on the device's down topic with a code, a message and a JSON path, and
// audited; each acceptance is audited in the same transaction as what it changes.
import type { RefusalLog } from '../../common/refusal-log.js';
import { createHash } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { createBodyAjv } from '../../rules/body-schema.js';
import type { Request } from '../../../devices/protocol.js';
import type { DeviceRule, MessageRule } from '../../rules/types.js';
import { canonicalJson } from '../../common/canonical-json.js';
import { FerryError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import { findCardNumber } from './card-guard.js';
import { checkEnvelope, parsePayload, requestIdOf } from './envelope.js';
import { RateLimiter } from './rate-limit.js';
import { schemaError } from './schema-errors.js';
import { idempotencyKey, type Accepted, type Handler, type IdempotencyRecord } from './handler.js';
import type { Replies } from '../outbox/replies.js';
import type { RunAfterCommit } from '../after-commit.js';
import type { SeenRequests } from './seen-requests.js';

export interface GapOptions {
  messages: ReadonlyMap<string, MessageRule>;
  handlers: readonly Handler[];
  store: Store;
  log: Logger;
  replies: Replies; // the down topics
  afterCommit: RunAfterCommit; // what an accepted request leaves to do
  now?: () => number;
  // Where refusals are logged, rate-limited by device, type and code (default: a line each).
  refusalLog?: RefusalLog;
  // Spares the store lookup of a request id it has never seen (seen-requests.ts).
  seen?: SeenRequests;
}

interface CheckedMessage {
  request: Request;
  rule: MessageRule;
  handler: Handler;
}

export class Gap {
  private readonly opts: GapOptions;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly handlers = new Map<string, Handler>();
  private readonly rates: RateLimiter;
  private readonly now: () => number;

  private messages: ReadonlyMap<string, MessageRule>;

  constructor(opts: GapOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.rates = new RateLimiter(this.now);
    this.messages = opts.messages;
    this.compile(opts.messages);
    for (const handler of opts.handlers) this.handlers.set(handler.type, handler);
  }

  // Reloaded rules: the new whitelist applies to the next message.
  replaceMessages(messages: ReadonlyMap<string, MessageRule>): void {
    this.compile(messages);
    this.messages = messages;
  }

  private compile(messages: ReadonlyMap<string, MessageRule>): void {
    const ajv = createBodyAjv();
    const compiled = new Map<string, ValidateFunction>();
    for (const rule of messages.values()) compiled.set(rule.type, ajv.compile(rule.schema));
    this.validators.clear();
    for (const [type, validate] of compiled) this.validators.set(type, validate);
  }

  // Resolves once the message is refused or durably accepted (the broker then PUBACKs).
  async receive(device: DeviceRule, topicType: string, payload: Buffer): Promise<void> {
    let parsed: unknown;
    let checked: CheckedMessage;
    try {
      checked = this.check(device, topicType, payload, (value) => (parsed = value));
    } catch (err) {
      return this.refuse(device, topicType, requestIdOf(parsed ?? idProbe(payload)), err);
    }
    try {
      await this.accept(device, checked);
    } catch (err) {
      return this.refuse(device, topicType, checked.request.id, err);
    }
  }

  // The checks that need nothing but the rules, cheapest first.
  private check(device: DeviceRule, topicType: string, payload: Buffer, seen: (v: unknown) => void): CheckedMessage {
    const rule = this.messages.get(topicType);
    const handler = this.handlers.get(topicType);
    if (!rule || !handler) throw new FerryError('UNKNOWN_TYPE', `Message type ${topicType} is not declared in the rules.`);
    if (payload.length > rule.maxBytes) throw new FerryError('TOO_LARGE', `The payload is ${payload.length} bytes; ${topicType} allows ${rule.maxBytes}.`);
    const value = parsePayload(payload);
    seen(value);
    const request = checkEnvelope(value);
    if (request.type !== topicType) throw new FerryError('TOPIC_MISMATCH', `The envelope says ${request.type} but the topic says ${topicType}.`, '/type');
    if (!rule.roles.includes(device.role)) throw new FerryError('FORBIDDEN_TYPE', `A ${device.role} may not send ${topicType}.`, '/type');
    if (!this.rates.take(`${device.id}\u0000${topicType}`, rule.rate)) {
      throw new FerryError('RATE_LIMIT', `More than ${rule.rate.perMinute} ${topicType} messages a minute (burst ${rule.rate.burst}); slow down.`);
    }
    const cardAt = findCardNumber(value);
    if (cardAt) throw new FerryError('CARD_DATA', 'Card numbers must never be sent to the gateway.', cardAt);
    const validate = this.validators.get(topicType)!;
    if (!validate(request.body)) throw schemaError('SCHEMA', validate.errors, '/body');
    return { request, rule, handler };
  }

  private async accept(device: DeviceRule, { request, handler }: CheckedMessage): Promise<void> {
    const key = idempotencyKey(device.id, request.id);
    const hash = createHash('sha256').update(canonicalJson({ type: request.type, body: request.body })).digest('hex');
    const outcome = await this.opts.store.transact(async (tx): Promise<{ earlier: IdempotencyRecord } | { accepted: Accepted }> => {
      const earlier = this.opts.seen?.mightHave(key) === false ? undefined : await tx.get<IdempotencyRecord>(key);
      if (earlier) {
        if (earlier.hash !== hash) throw new FerryError('CONFLICT', `Request id ${request.id} was used before with a different body.`, '/id');
        return { earlier };
      }
      const accepted = await handler.accept(tx, request, device);
      const stored = accepted.kind === 'answer' && !handler.replay ? { answer: accepted.answer } : {};
      tx.put(key, { hash, type: request.type, ...stored, ...(accepted.ref ? { ref: accepted.ref } : {}), at: this.isoNow() } satisfies IdempotencyRecord);
      tx.audit({ kind: 'gap.accepted', device: device.id, type: request.type, id: request.id, ...auditRef(accepted) });
      return { accepted };
    });
    if ('earlier' in outcome) {
      const answer = handler.replay ? await handler.replay(outcome.earlier, device) : outcome.earlier.answer;
      if (answer) await this.opts.replies.answer(device.id, request.id, answer);
      return;
    }
    const accepted = outcome.accepted;
    if (accepted.kind === 'answer') {
      this.opts.afterCommit(accepted.effects);
      await this.opts.replies.answer(device.id, request.id, accepted.answer);
      return;
    }
    // Asked for before the effects run: it waits for what they cause. Not awaited: the
    // PUBACK must not wait for the payment server.
    const later = accepted.answer();
    this.opts.afterCommit(accepted.effects);
    later.then((answer) => this.opts.replies.answer(device.id, request.id, answer)).catch((err: Error) => {
      this.opts.log.error({ err: err.message, device: device.id, id: request.id }, 'answer after commit failed');
    });
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  private async refuse(device: DeviceRule, type: string, requestId: string | undefined, err: unknown): Promise<void> {
    const e = err instanceof FerryError ? err : internal(err, this.opts.log);
    if (this.opts.refusalLog) {
      this.opts.refusalLog.refused(`gap ${device.id} ${type} ${e.code}`, { device: device.id, type, code: e.code, path: e.path }, 'message refused by the gap');
    } else {
      this.opts.log.info({ device: device.id, type, id: requestId, code: e.code, path: e.path }, 'refused');
    }
    await this.opts.store.audit({
      kind: 'gap.refused', device: device.id, type, code: e.code,
      ...(requestId ? { id: requestId } : {}), ...(e.path ? { path: e.path } : {}),
    });
    await this.opts.replies.answer(device.id, requestId, { type: 'error', body: { code: e.code, message: e.message, ...(e.path ? { path: e.path } : {}) } });
  }

}

function auditRef(accepted: Accepted): Record<string, string> {
  if (accepted.audit) return accepted.audit;
  return accepted.ref ? { ref: accepted.ref } : {};
}

// A payload refused before it was parsed (undeclared type, too large) is still read for
// its request id, so that the device can match the error to its request; but only a
// payload small enough that parsing it costs nothing to speak of.
const ID_PROBE_BYTES_MAX = 64 * 1024;

function idProbe(payload: Buffer): unknown {
  if (payload.length > ID_PROBE_BYTES_MAX) return undefined;
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function internal(err: unknown, log: Logger): FerryError {
  log.error({ err: err instanceof Error ? err.stack : String(err) }, 'unexpected error in the gap');
  return new FerryError('INTERNAL');
}
