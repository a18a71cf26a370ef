// Runs what a committed transaction left to do (gap/handler.ts AfterCommit), for the
// gap's handlers and the order book alike. Each effect is best effort: what one fails
// to do is redone from the store (see AfterCommit).
import type { Logger } from '../common/logger.js';
import type { AfterCommit } from './gap/handler.js';
import type { SlotPool } from './registration/pools.js';
import type { OuterLink } from './payments/link.js';
import type { FirstAnswers } from './payments/first-answers.js';
import type { Replies } from './outbox/replies.js';
import type { Dispatcher } from './dispatch/dispatcher.js';

export interface AfterCommitDeps {
  poolChanged(pool: SlotPool): void;
  link: OuterLink;
  answers: FirstAnswers;
  replies: Replies;
  dispatcher(): Dispatcher | undefined; // starts with the broker, after the gap
  log: Logger;
}

export type RunAfterCommit = (effects: readonly AfterCommit[]) => void;

export function afterCommit(deps: AfterCommitDeps): RunAfterCommit {
  return (effects) => {
    const devices = new Map<string, string[]>(); // device -> the message ids posted to it
    for (const effect of effects) {
      try {
        switch (effect.kind) {
          case 'slots': deps.poolChanged(effect.pool); break;
          case 'refund': deps.link.sendRefund(effect.refund); break;
          case 'order': deps.link.sendOrder(effect.order); break;
          case 'answer': deps.answers.give(effect.order); break;
          case 'outbox': {
            const ids = devices.get(effect.device) ?? [];
            if (effect.messageId !== undefined) ids.push(effect.messageId);
            devices.set(effect.device, ids);
            break;
          }
          case 'dispatch.queued': deps.dispatcher()?.queued(effect.record); break;
          case 'dispatch.taken': deps.dispatcher()?.taken(effect.record); break;
        }
      } catch (err) {
        deps.log.error({ err: (err as Error).message, effect: effect.kind }, 'an after-commit effect failed');
      }
    }
    for (const [device, ids] of devices) deps.replies.posted(device, ids);
  };
}
