// Counts what happened from the audit events of each durable transaction: the audit log
// already says every gap decision, payment state, refund and rule reload, so the counters
// agree with it by construction and no part counts twice. Only fixed fields of an event
// become label values (a message type from the rules, a code, a method, a status).
import type { AuditEvent } from '../store/store.js';
import type { InnerMetrics } from './registry.js';

const FINAL = new Set(['succeeded', 'failed']);

// `declared`: the message types of the running rules; any other type a device names on
// its topic is counted as `undeclared`, never by the name it sent.
export function auditCounter(metrics: InnerMetrics, declared: () => ReadonlyMap<string, unknown>): (events: readonly AuditEvent[]) => void {
  const typeOf = (type: unknown) => (typeof type === 'string' && declared().has(type) ? type : 'undeclared');
  const text = (value: unknown) => (typeof value === 'string' ? value : 'other');
  return (events) => {
    for (const e of events) {
      switch (e.kind) {
        case 'gap.accepted': metrics.count('ferry_gap_accepted_total', { type: typeOf(e.type) }); break;
        case 'gap.refused': metrics.count('ferry_gap_refused_total', { type: typeOf(e.type), code: text(e.code) }); break;
        case 'payment.accepted': metrics.count('ferry_payments_accepted_total', { method: text(e.method) }); break;
        case 'payment.state':
          if (FINAL.has(e.to as string)) metrics.count('ferry_payments_total', { method: text(e.method), status: text(e.to) });
          break;
        case 'refund.requested': metrics.count('ferry_refunds_total', { status: 'requested' }); break;
        case 'refund.succeeded': metrics.count('ferry_refunds_total', { status: 'succeeded' }); break;
        case 'refund.failed': metrics.count('ferry_refunds_total', { status: 'failed' }); break;
        case 'rules.reloaded': metrics.count('ferry_rules_reloads_total', { result: 'ok' }); break;
        case 'rules.reload_refused': metrics.count('ferry_rules_reloads_total', { result: 'refused' }); break;
        default: break;
      }
    }
  };
}
