// The console's lists of recent events, read from the audit chain, which already has
// every one of them (invariant 5: every refusal is audited; so is every rule reload and
// every receiver's report). The metrics count these events (metrics/audit-tap.ts); the
// console needs the events themselves, newest first, and the one figure no metric has
// (labels never name a device): how many of a device's messages the gap refused.
// Following the chain's tail, rather than hooking the gap and the broker, keeps one
// record of each event and costs the parts that make them nothing. The tail is read from
// the chain once, to seed the lists after a start; from then on the feed takes each
// transaction's entries as they become durable (Store.onAudited). Reading the tail every
// 2 s instead cost the inner side 15-180 ms of its time per read at a few hundred
// payments a second (2,000-7,700 entries parsed again), and a share of the slow answers.
//
// Only fields that cannot identify a patient are kept: codes, device ids, declared
// message types, topic roots, times. Never a payload, a request id or a path.
import type { Store } from '../../store/store.js';
import type { AuditEntry } from '../../store/audit.js';
import { KEYSPACE } from '../../store/keyspace.js';

export const CONSOLE_FEED_LIMITS = Object.freeze({
  // Refusals kept for the console's list: a screenful, newest first.
  refusalsKept: 50,
  // Audit entries read from the chain's tail to seed the lists after a start, and the
  // most held back while that read runs: the console's lists are a view, the chain
  // stays whole.
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
  // Entries that became durable while the seeding read ran; null once it is done.
  private held: AuditEntry[] | null = [];
  private readonly refusals: Refusal[] = [];
  private readonly gapRefusalsByDevice = new Map<string, number>();
  private readonly receivers = new Map<string, ReceiverReport>();
  private reload: RuleReload | null = null;
  private reading: Promise<void> | null = null;

  // `declared`: the message types of the current rules; any other type a device put in
  // a topic is its own text and is not repeated.
  constructor(private readonly store: Store, private readonly declared: () => { has(type: string): boolean }) {
    store.onAudited((entries) => this.arrived(entries));
  }

  // Resolves once the lists hold everything durable so far: the first call seeds them
  // from the chain's tail (a failed read is tried again by the next call); every entry
  // after that arrives by itself.
  catchUp(): Promise<void> {
    if (this.held === null) return Promise.resolve();
    this.reading ??= this.seed().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private arrived(entries: readonly AuditEntry[]): void {
    if (this.held === null) {
      for (const entry of entries) this.take(entry, false);
      return;
    }
    this.held.push(...entries);
    if (this.held.length > CONSOLE_FEED_LIMITS.entriesPerReadMax) this.held.splice(0, this.held.length - CONSOLE_FEED_LIMITS.entriesPerReadMax);
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

  // The chain's tail seeds the lists, but not the per-device counts: those count from
  // the start, as the roster's do. The read sees every entry committed up to `head`
  // (synced or not), so of the entries held back only the later ones are new.
  private async seed(): Promise<void> {
    const head = this.store.auditHead.seq;
    const rows = head === 0 ? [] : await this.store.list<AuditEntry>(KEYSPACE.audit.prefix, {
      reverse: true, limit: Math.min(head, CONSOLE_FEED_LIMITS.entriesPerReadMax),
    });
    const tail = rows.map(([, entry]) => entry).filter((e) => e.seq <= head).reverse();
    for (const entry of tail) this.take(entry, true);
    const held = this.held ?? [];
    this.held = null;
    for (const entry of held) if (entry.seq > head) this.take(entry, false);
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
