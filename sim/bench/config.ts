// The bench's sizes: flags first, then environment variables, then the defaults (the
// figures in BENCHMARKS.md). CI runs a tiny version with small values.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { LOAD_DEVICES_MAX, LOAD_KIOSKS_MAX } from '../load/rules.js';

export interface BenchConfig {
  payments: number; // per measured phase (maximum rate, then half of it)
  concurrency: number; // requests in flight at the maximum rate: one per device
  warmup: number; // requests before measuring (JIT, connections, caches)
  idle: number; // idle device connections; 0 skips part (c)
  storm: number; // of those, dropped at once
  storeTransactions: number; // the store group-commit bench; 0 skips it
  agedDays: number; // the aged-store step: days of a large hospital's traffic; 0 skips it
  agedPayments: number; // its payments a day
  out: string; // the JSON file written
  cpuProfDir?: string; // run the measured processes under --cpu-prof
}

const SPEC = {
  payments: { env: 'FERRY_BENCH_PAYMENTS', default: 3000, min: 1 },
  concurrency: { env: 'FERRY_BENCH_CONCURRENCY', default: 50, min: 1 },
  warmup: { env: 'FERRY_BENCH_WARMUP', default: 300, min: 0 },
  idle: { env: 'FERRY_BENCH_IDLE', default: 10_000, min: 0 },
  storm: { env: 'FERRY_BENCH_STORM', default: 1000, min: 0 },
  'store-transactions': { env: 'FERRY_BENCH_STORE_TX', default: 10_000, min: 0 },
  'aged-days': { env: 'FERRY_BENCH_AGED_DAYS', default: 180, min: 0 },
  'aged-payments': { env: 'FERRY_BENCH_AGED_PAYMENTS', default: 10_000, min: 1 },
} as const;

// Above this a value is a typo, not a bench size.
const SIZE_MAX = 1_000_000;

export const BENCH_HELP = `Usage: npm run bench [-- --payments N --concurrency N --warmup N --idle N --storm N
                      --store-transactions N --aged-days N --aged-payments N --out FILE --cpu-prof DIR]
Every size also reads an environment variable: ${Object.values(SPEC).map((s) => s.env).join(', ')},
FERRY_BENCH_OUT, FERRY_BENCH_CPU_PROF. Defaults: ${Object.entries(SPEC).map(([k, s]) => `${k} ${s.default}`).join(', ')}.`;

export function benchConfig(argv: string[], env: NodeJS.ProcessEnv, projectDir: string): BenchConfig {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      ...Object.fromEntries(Object.keys(SPEC).map((k) => [k, { type: 'string' as const }])),
      out: { type: 'string' }, 'cpu-prof': { type: 'string' },
    },
  });
  const size = (key: keyof typeof SPEC): number => {
    const spec = SPEC[key];
    const text = (values as Record<string, string | undefined>)[key] ?? env[spec.env];
    const n = text === undefined || text === '' ? spec.default : Number(text);
    if (!Number.isSafeInteger(n) || n < spec.min || n > SIZE_MAX) throw new Error(`--${key} (${spec.env}) must be an integer from ${spec.min} to ${SIZE_MAX}`);
    return n;
  };
  const cfg: BenchConfig = {
    payments: size('payments'), concurrency: size('concurrency'), warmup: size('warmup'),
    idle: size('idle'), storm: size('storm'), storeTransactions: size('store-transactions'),
    agedDays: size('aged-days'), agedPayments: size('aged-payments'),
    out: path.resolve(values.out ?? env.FERRY_BENCH_OUT ?? path.join(projectDir, 'bench-results/latest.json')),
  };
  const prof = values['cpu-prof'] ?? env.FERRY_BENCH_CPU_PROF;
  if (prof) cfg.cpuProfDir = path.resolve(prof);
  if (cfg.storm > cfg.idle) cfg.storm = cfg.idle;
  if (cfg.idle > LOAD_DEVICES_MAX || cfg.concurrency > LOAD_KIOSKS_MAX) throw new Error(`at most ${LOAD_DEVICES_MAX} idle devices and ${LOAD_KIOSKS_MAX} in flight (the rules' device limit)`);
  return cfg;
}
