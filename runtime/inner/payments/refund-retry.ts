// An operator's retry of a declined refund (`ferry refunds retry ID`, by registration
// or refund id): the registration goes back to refunding and the same refund, under
// the same id, is sent to the payment server again. Only a refund_failed registration.
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/store.js';
import { regKey, type Registration, type Registrations } from '../registration/registrations.js';
import type { OuterLink } from './link.js';
import { refundKey, reopenRefund, RefundRetryRefused, type Refund } from './refunds.js';

export interface RefundRetryDeps {
  store: Store;
  registrations: Registrations;
  link: OuterLink;
  log: Logger;
  now?: () => Date;
}

export async function retryRefund(deps: RefundRetryDeps, id: string): Promise<{ registrationId: string; refundId: string; status: 'refunding' }> {
  const now = deps.now ?? (() => new Date());
  const refund = await deps.store.transact(async (tx) => {
    let registrationId = id;
    if (id.startsWith('F')) {
      const named = await tx.get<Refund>(refundKey(id));
      if (!named) throw new RefundRetryRefused('REFUND_NOT_FOUND', `no refund ${id}`);
      if (!named.registrationId) throw new RefundRetryRefused('NOT_REFUND_FAILED', `refund ${id} is not a registration's`);
      registrationId = named.registrationId;
    }
    const reg = await tx.get<Registration>(regKey(registrationId));
    if (!reg) throw new RefundRetryRefused('REFUND_NOT_FOUND', `no registration ${registrationId}`);
    if (reg.status !== 'refund_failed' || !reg.refundId) {
      throw new RefundRetryRefused('NOT_REFUND_FAILED', `registration ${registrationId} is ${reg.status}, not refund_failed: there is no declined refund to retry`);
    }
    const failed = await tx.get<Refund>(refundKey(reg.refundId));
    if (!failed || failed.status !== 'failed') {
      throw new RefundRetryRefused('NOT_REFUND_FAILED', `refund ${reg.refundId} of ${registrationId} is ${failed?.status ?? 'missing'}, not failed`);
    }
    const reopened = await reopenRefund(tx, failed, now());
    await deps.registrations.refunding(tx, registrationId, reopened.refundId, now());
    tx.audit({ kind: 'refund.retried', refundId: reopened.refundId, registrationId, orderId: reopened.orderId, amount: reopened.amount, by: 'management' });
    return reopened;
  });
  deps.log.info({ refundId: refund.refundId, registrationId: refund.registrationId }, 'declined refund retried by an operator');
  deps.link.sendRefund(refund);
  return { registrationId: refund.registrationId!, refundId: refund.refundId, status: 'refunding' };
}
