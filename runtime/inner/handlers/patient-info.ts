// patient.info (kiosk): what a patient entered. It is routed to a department
// (dispatch/route.ts), put in that department's inbox in this transaction, and sent to
// the department's workstations once the acceptance is durable. The kiosk is told
// where it went. Nothing of it ever reaches the channel to the payment side.
import type { DispatchQueuedBody, PatientInfoBody } from '../../../devices/protocol.js';
import { assert, FerryError } from '../../common/errors.js';
import type { TriageRules } from '../../rules/triage.js';
import type { Answer, Handler } from '../gap/handler.js';
import { enqueue } from '../dispatch/inbox.js';
import { dispatchKey, type DispatchRecord } from '../dispatch/records.js';
import { routeOf } from '../dispatch/route.js';
import type { Store } from '../store/store.js';

export interface PatientInfoDeps {
  store: Store;
  triage: () => TriageRules; // the rules in force (reloads replace them)
  departments: () => ReadonlySet<string>;
  now?: () => Date;
}

export function patientInfo(deps: PatientInfoDeps): Handler {
  const now = deps.now ?? (() => new Date());
  return {
    type: 'patient.info',
    async accept(tx, request, device) {
      const body = request.body as unknown as PatientInfoBody;
      const route = await routeOf(tx, body, deps.triage());
      if (!deps.departments().has(route.dept)) {
        throw new FerryError('UNKNOWN_DEPT', `Department ${route.dept} is not in departments.yaml.`, '/body/dept');
      }
      const record = await enqueue(tx, { body, route, kiosk: device.id, requestId: request.id, now: now() });
      tx.audit({ kind: 'dispatch.queued', dispatchId: record.dispatchId, dept: record.dept, seq: record.seq, priority: record.priority, routedBy: record.routedBy, device: device.id });
      return { kind: 'answer', ref: record.dispatchId, answer: queuedAnswer(record), effects: [{ kind: 'dispatch.queued', record }] };
    },
    // The same request again: where it went, from the store.
    async replay(idem) {
      const record = await deps.store.get<DispatchRecord>(dispatchKey(idem.ref!));
      assert(record !== undefined, `dispatch ${idem.ref} of an accepted patient.info exists`);
      return queuedAnswer(record);
    },
  };
}

function queuedAnswer(r: DispatchRecord): Answer {
  const body: DispatchQueuedBody = {
    dispatchId: r.dispatchId, dept: r.dept, seq: r.seq, priority: r.priority, routedBy: r.routedBy,
    ...(r.rule !== undefined ? { rule: r.rule } : {}),
  };
  return { type: 'dispatch.queued', body };
}
