// A seeded random source (mulberry32): the same scenario and seed give the same
// patients and choices, so that a failing run can be run again.
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

// Arrival times over the day with a morning peak: the arrival rate rises to a peak a
// quarter of the way in, then falls to a quieter afternoon (a triangular density
// mixed with a flat one). Returns sorted offsets in ms.
export function arrivalTimes(random: Random, patients: number, durationMs: number): number[] {
  const peak = 0.25;
  const times = Array.from({ length: patients }, () => {
    if (random.chance(0.3)) return random.next();
    const u = random.next();
    return u < peak ? Math.sqrt(u * peak) : 1 - Math.sqrt((1 - u) * (1 - peak));
  });
  return times.map((t) => Math.floor(t * durationMs)).sort((a, b) => a - b);
}
