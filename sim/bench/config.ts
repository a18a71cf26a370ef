// The bench's sizes: flags first, then environment variables, then the defaults (the
// figures in BENCHMARKS.md). CI runs a tiny version with small values.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { LOAD_DEVICES_MAX, LOAD_KIOSKS_MAX } from '../load/rules.js';

export const GENERATORS = ['lean', 'device'] as const;
export type Generator = (typeof GENERATORS)[number];

export interface BenchConfig {
  seconds: number; // each measured phase (maximum rate, then half of it) runs this long
  warmupSeconds: number; // before each maximum-rate phase (JIT, connections, caches)
  rounds: number; // baseline and Ferry alternate this many times per generator
  generators: Generator[]; // sim/load/lean-load.ts, devices/client.ts
  concurrency: number; // requests in flight at the maximum rate: one per device
  idle: number; // idle device connections; 0 skips part (c)
  storm: number; // of those, dropped at once
  storeTransactions: number; // the store group-commit bench; 0 skips it
  agedDays: number; // the aged-store step: days of a large hospital's traffic; 0 skips it
  agedPayments: number; // its payments a day
  out: string; // the JSON file written
  cpuProfDir?: string; // run the measured processes under --cpu-prof
  pin: boolean; // brokers (echo, inner) on one core, the rest on the others (sim/load/pin.ts)
}

// `fraction`: a number of seconds that may have decimals (tests run phases of a fraction
// of a second); the rest are whole numbers.
const SPEC = {
  seconds: { env: 'FERRY_BENCH_SECONDS', default: 10, min: 0.2, fraction: true },
  'warmup-seconds': { env: 'FERRY_BENCH_WARMUP_SECONDS', default: 2, min: 0, fraction: true },
  rounds: { env: 'FERRY_BENCH_ROUNDS', default: 2, min: 1 },
  concurrency: { env: 'FERRY_BENCH_CONCURRENCY', default: 50, min: 1 },
  idle: { env: 'FERRY_BENCH_IDLE', default: 10_000, min: 0 },
  storm: { env: 'FERRY_BENCH_STORM', default: 1000, min: 0 },
  'store-transactions': { env: 'FERRY_BENCH_STORE_TX', default: 10_000, min: 0 },
  'aged-days': { env: 'FERRY_BENCH_AGED_DAYS', default: 180, min: 0 },
  'aged-payments': { env: 'FERRY_BENCH_AGED_PAYMENTS', default: 10_000, min: 1 },
} as const;

// Above this a value is a typo, not a bench size.
const SIZE_MAX = 1_000_000;

export const BENCH_HELP = `Usage: npm run bench [-- --seconds S --warmup-seconds S --rounds N --generators lean,device
                      --concurrency N --idle N --storm N --store-transactions N --aged-days N --aged-payments N
                      --out FILE --cpu-prof DIR --pin on|off]
Every size also reads an environment variable: ${Object.values(SPEC).map((s) => s.env).join(', ')},
FERRY_BENCH_GENERATORS, FERRY_BENCH_OUT, FERRY_BENCH_CPU_PROF, FERRY_BENCH_PIN.
Defaults: ${Object.entries(SPEC).map(([k, s]) => `${k} ${s.default}`).join(', ')}, generators ${GENERATORS.join(',')}, pin on.`;

function pinOf(text: string): boolean {
  if (text === 'on' || text === 'off') return text === 'on';
  throw new Error(`--pin (FERRY_BENCH_PIN) is on or off, not ${text}`);
}

export function benchConfig(argv: string[], env: NodeJS.ProcessEnv, projectDir: string): BenchConfig {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...Object.fromEntries(Object.keys(SPEC).map((k) => [k, { type: 'string' as const }])),
      out: { type: 'string' }, 'cpu-prof': { type: 'string' }, generators: { type: 'string' }, pin: { type: 'string' },
    },
  });
  const size = (key: keyof typeof SPEC): number => {
    const spec: { env: string; default: number; min: number; fraction?: boolean } = SPEC[key];
    const text = (values as Record<string, string | undefined>)[key] ?? env[spec.env];
    const n = text === undefined || text === '' ? spec.default : Number(text);
    const whole = spec.fraction ? Number.isFinite(n) : Number.isSafeInteger(n);
    if (!whole || n < spec.min || n > SIZE_MAX) throw new Error(`--${key} (${spec.env}) must be ${spec.fraction ? 'a number' : 'an integer'} from ${spec.min} to ${SIZE_MAX}`);
    return n;
  };
  const generators = (values.generators ?? env.FERRY_BENCH_GENERATORS ?? GENERATORS.join(',')).split(',').map((g) => g.trim()).filter(Boolean);
  const unknown = generators.find((g) => !(GENERATORS as readonly string[]).includes(g));
  if (unknown !== undefined || generators.length === 0) throw new Error(`--generators (FERRY_BENCH_GENERATORS) is a list of ${GENERATORS.join(', ')}${unknown ? `, not ${unknown}` : ''}`);
  const cfg: BenchConfig = {
    seconds: size('seconds'), warmupSeconds: size('warmup-seconds'), rounds: size('rounds'),
    generators: [...new Set(generators)] as Generator[], concurrency: size('concurrency'),
    idle: size('idle'), storm: size('storm'), storeTransactions: size('store-transactions'),
    agedDays: size('aged-days'), agedPayments: size('aged-payments'),
    out: path.resolve(values.out ?? env.FERRY_BENCH_OUT ?? path.join(projectDir, 'bench-results/latest.json')),
    pin: pinOf(values.pin ?? env.FERRY_BENCH_PIN ?? 'on'),
  };
  const prof = values['cpu-prof'] ?? env.FERRY_BENCH_CPU_PROF;
  if (prof) cfg.cpuProfDir = path.resolve(prof);
  if (cfg.storm > cfg.idle) cfg.storm = cfg.idle;
  if (cfg.idle > LOAD_DEVICES_MAX || cfg.concurrency > LOAD_KIOSKS_MAX) throw new Error(`at most ${LOAD_DEVICES_MAX} idle devices and ${LOAD_KIOSKS_MAX} in flight (the rules' device limit)`);
  return cfg;
}
