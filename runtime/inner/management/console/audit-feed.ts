// The console's lists of recent events, read from the audit chain, which already has
// every one of them (invariant 5: every refusal is audited; so is every rule reload and
// every receiver's report). The metrics count these events (metrics/audit-tap.ts); the
// console needs the events themselves, newest first, and the one figure no metric has
// (labels never name a device): how many of a device's messages the gap refused.
// Reading the chain's tail, rather than hooking the gap and the broker, keeps one
// record of each event and costs the parts that make them nothing.
//
// Only fields that cannot identify a patient are kept: codes, device ids, declared
// message types, topic roots, times. Never a payload, a request id or a path.
import type { Store } from '../../store/store.js';
import type { AuditEntry } from '../../store/audit.js';
import { KEYSPACE } from '../../store/keyspace.js';

export const CONSOLE_FEED_LIMITS = Object.freeze({
  // Refusals kept for the console's list: a screenful, newest first.
  refusalsKept: 50,
  // Audit entries read in one catch-up. At the tail read every 2 s this covers
  // 2,500 entries a second, more than the gateway writes at full load; a longer burst
  // skips the oldest (the console's lists are a view, the chain stays whole).
  entriesPerReadMax: 5_000,
});

export interface Refusal {
  at: string; // ISO time of the audit entry (the inner side's clock)
  code: string; // the device error code, or the audit kind of a broker denial (acl.denied.publish)
  device: string;
  topicKind: string; // a declared message type, or a topic's root: never free text
  reason?: string; // a broker denial's fixed reason ('topic not allowed')
}

export interface RuleReload {
  at: string;
  ok: boolean;
  dropped?: number; // connections closed because their device went away
  problem?: string; // the first line of why the files did not load
}

export interface ReceiverReport {
  at: string;
  dept: string;
  date: string;
  version: number;
  device: string;
}

const TOPIC_ROOTS = new Set(['dev', 'dept', 'slots', '$SYS']);

export class AuditFeed {
  private lastSeq = 0;
  private seeded = false;
  private readonly refusals: Refusal[] = [];
  private readonly gapRefusalsByDevice = new Map<string, number>();
  private readonly receivers = new Map<string, ReceiverReport>();
  private reload: RuleReload | null = null;
  private reading: Promise<void> | null = null;

  // `declared`: the message types of the current rules; any other type a device put in
  // a topic is its own text and is not repeated.
  constructor(private readonly store: Store, private readonly declared: () => { has(type: string): boolean }) {}

  // Reads what was appended since the last call; concurrent callers share one read.
  catchUp(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  recentRefusals(): readonly Refusal[] {
    return this.refusals;
  }

  // The gap's refusals of this device's messages since the start (the roster counts
  // the broker's).
  gapRefusalsOf(device: string): number {
    return this.gapRefusalsByDevice.get(device) ?? 0;
  }

  lastReload(): RuleReload | null {
    return this.reload;
  }

  receiverReport(dept: string): ReceiverReport | undefined {
    return this.receivers.get(dept);
  }

  private async read(): Promise<void> {
    // The first read after a start seeds the lists from the chain's tail, but not the
    // per-device counts: those count from the start, as the roster's do.
    const seeding = !this.seeded;
    this.seeded = true;
    const head = this.store.auditHead.seq;
    if (head <= this.lastSeq) return;
    const rows = await this.store.list<AuditEntry>(KEYSPACE.audit.prefix, {
      reverse: true, limit: Math.min(head - this.lastSeq, CONSOLE_FEED_LIMITS.entriesPerReadMax),
    });
    const fresh = rows.map(([, entry]) => entry).filter((e) => e.seq > this.lastSeq).reverse();
    for (const entry of fresh) this.take(entry, seeding);
    this.lastSeq = fresh.length > 0 ? fresh[fresh.length - 1]!.seq : head;
  }

  private take(entry: AuditEntry, seeding: boolean): void {
    const e = entry.event as Record<string, unknown>;
    const kind = e.kind as string;
    if (kind === 'gap.refused') {
      const type = String(e.type ?? '');
      const device = String(e.device ?? '');
      this.refused({ at: entry.ts, code: String(e.code ?? ''), device, topicKind: this.declared().has(type) ? type : '(undeclared type)' });
      if (!seeding) this.gapRefusalsByDevice.set(device, (this.gapRefusalsByDevice.get(device) ?? 0) + 1);
    } else if (kind.startsWith('acl.denied.')) {
      this.refused({
        at: entry.ts, code: kind, device: String(e.device ?? ''), topicKind: topicRoot(e.topic),
        ...(typeof e.reason === 'string' ? { reason: e.reason.slice(0, 60) } : {}),
      });
    } else if (kind === 'rules.reloaded') {
      this.reload = { at: entry.ts, ok: true, ...(typeof e.dropped === 'number' ? { dropped: e.dropped } : {}) };
    } else if (kind === 'rules.reload_refused') {
      this.reload = { at: entry.ts, ok: false, problem: String(e.problems ?? '').split('\n')[0]!.slice(0, 200) };
    } else if (kind === 'slots.applied' && typeof e.dept === 'string') {
      this.receivers.set(e.dept, { at: entry.ts, dept: e.dept, date: String(e.date ?? ''), version: Number(e.version ?? 0), device: String(e.device ?? '') });
    }
  }

  private refused(refusal: Refusal): void {
    this.refusals.unshift(refusal);
    if (this.refusals.length > CONSOLE_FEED_LIMITS.refusalsKept) this.refusals.length = CONSOLE_FEED_LIMITS.refusalsKept;
  }
}

// `dev/kiosk-01/up/x` → `dev/…`: the root says what was tried; the rest is the device's own
// text and might hold anything.
function topicRoot(topic: unknown): string {
  if (typeof topic !== 'string') return '—';
  const root = topic.split('/')[0] ?? '';
  return TOPIC_ROOTS.has(root) ? `${root}/…` : '(other topic)';
}
