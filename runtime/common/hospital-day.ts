// The hospital's day: every "which day is this" in the gateway (query and reconcile
// dates, retention's days, registration dates and sessions, the simulator's statements)
// is a calendar day in one IANA time zone, gateway.yaml `timeZone`, and never the
// box's own zone or UTC. Offsets come from Intl, so a zone with daylight saving time
// gets 23- and 25-hour days right.

export const TIME_ZONE_DEFAULT = 'Asia/Shanghai';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
// No zone's offset changes twice within this span, and every offset is inside it.
const TRANSITION_SPAN_MS = 14 * 3_600_000;

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function isCalendarDate(date: string): boolean {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(date)) return false;
  const parsed = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
}

// Calendar arithmetic needs no zone: a day is a day wherever it is.
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

// The UTC day of an instant: only for keys that carry one (runtime/inner/ids.ts).
export function utcDayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class HospitalDay {
  private readonly parts: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    this.parts = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  // YYYY-MM-DD of the instant, in the hospital.
  dayOf(instant: number | string | Date): string {
    const p = this.wall(toMs(instant));
    return `${p.year}-${p.month}-${p.day}`;
  }

  // The instant a local wall-clock time of a day happens (minutes after local midnight).
  // A time skipped by a spring-forward change is taken as the instant the clocks jump,
  // plus how far into the gap it was; a time that happens twice counts the first time.
  at(date: string, minuteOfDay: number): number {
    const wall = Date.parse(`${date}T00:00:00Z`) + minuteOfDay * MINUTE_MS;
    const before = this.offsetAt(wall - TRANSITION_SPAN_MS);
    const after = this.offsetAt(wall + TRANSITION_SPAN_MS);
    const shows = (t: number) => t + this.offsetAt(t) === wall;
    const candidates = [wall - before, wall - after].filter(shows);
    return candidates.length > 0 ? Math.min(...candidates) : wall - before;
  }

  // A local day as instants: [startMs, endMs).
  rangeOf(date: string): { startMs: number; endMs: number } {
    return { startMs: this.at(date, 0), endMs: this.at(addDays(date, 1), 0) };
  }

  // The zone's offset from UTC at an instant, in ms (east positive).
  offsetAt(ms: number): number {
    const whole = Math.floor(ms / 1000) * 1000;
    const p = this.wall(whole);
    const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
    return asUtc - whole;
  }

  private wall(ms: number): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string> {
    const out: Record<string, string> = {};
    for (const part of this.parts.formatToParts(ms)) out[part.type] = part.value;
    return out as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string>;
  }
}

function toMs(instant: number | string | Date): number {
  return typeof instant === 'number' ? instant : typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
}
