// Bounded in-memory caches for the notification endpoint. Both drop their oldest entry
// when full: a flood of junk cannot grow memory, and what it pushes out is only an
// optimisation (the inner side dedupes notifications in its store and compares their
// content; see docs/notifications.md).
import { assert } from '../../common/errors.js';

// Keys remembered until a deadline: signatures seen within the timestamp tolerance.
export class ExpiringSet {
  private readonly entries = new Map<string, number>(); // key -> expiry, oldest first

  constructor(private readonly max: number) {
    assert(max >= 1, 'a bounded set holds at least one key');
  }

  has(key: string, nowMs: number): boolean {
    const expiry = this.entries.get(key);
    return expiry !== undefined && expiry > nowMs;
  }

  add(key: string, expiresAtMs: number, nowMs: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.sweep(nowMs);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, expiresAtMs);
    assert(this.entries.size <= this.max, 'bounded set stays within its maximum');
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(nowMs: number): void {
    for (const [key, expiry] of this.entries) if (expiry <= nowMs) this.entries.delete(key);
  }
}

// Keys remembered with a value until pushed out by newer ones: the notification ids
// already accepted, each with the content it was accepted with.
export class RecentMap<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {
    assert(max >= 1, 'a bounded map holds at least one key');
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
  }
}
