// dispatch.ack (workstation): the department has taken a message. The first ack wins
// for the whole department and the other workstations are told (dispatch.taken); a
// later ack of the same message is answered `duplicate`, not refused, because two
// workstations racing for one patient is normal, not an error.
import type { DispatchAckBody, DispatchAckedBody } from '../../../devices/protocol.js';
import { assert } from '../../common/errors.js';
import type { Answer, Handler } from '../gap/handler.js';
import { acknowledge } from '../dispatch/inbox.js';
import { dispatchKey, type DispatchRecord } from '../dispatch/records.js';
import type { Store } from '../store/store.js';

export function dispatchAck(deps: { store: Store; now?: () => Date }): Handler {
  const now = deps.now ?? (() => new Date());
  return {
    type: 'dispatch.ack',
    async accept(tx, request, device) {
      const { dispatchId } = request.body as unknown as DispatchAckBody;
      const { record, first } = await acknowledge(tx, dispatchId, device, now());
      if (first) tx.audit({ kind: 'dispatch.acked', dispatchId, dept: record.dept, seq: record.seq, device: device.id });
      // The outcome is kept in the idempotency record: a resend of this very request
      // is answered as it was the first time, even though the message is acked now.
      const status = first ? 'acked' : 'duplicate';
      return {
        kind: 'answer', ref: `${status}:${dispatchId}`, answer: ackedAnswer(record, status),
        effects: first ? [{ kind: 'dispatch.taken', record }] : [],
      };
    },
    async replay(idem) {
      const [status, dispatchId] = idem.ref!.split(':') as ['acked' | 'duplicate', string];
      const record = await deps.store.get<DispatchRecord>(dispatchKey(dispatchId));
      assert(record !== undefined && record.status === 'acked', `dispatch ${dispatchId} of an accepted dispatch.ack is acked`);
      return ackedAnswer(record, status);
    },
  };
}

function ackedAnswer(r: DispatchRecord, status: 'acked' | 'duplicate'): Answer {
  const body: DispatchAckedBody = { dispatchId: r.dispatchId, status, ackedBy: r.ackedBy!, ackedAt: r.ackedAt! };
  return { type: 'dispatch.acked', body };
}
