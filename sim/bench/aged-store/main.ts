// The aged-store step alone: node dist/sim/bench/aged-store/main.js [--days N] [--payments-per-day N] [--sweep-days N] [--json]
// With --json it prints the result as JSON on stdout (how `npm run bench` runs it, in a
// child started with the inner side's V8 flags, so that its stalls are production's).
import { parseArgs } from 'node:util';
import { formatAgedStore, runAgedStoreBench } from './bench.js';

const { values } = parseArgs({ options: { days: { type: 'string', default: '180' }, 'payments-per-day': { type: 'string', default: '10000' }, 'sweep-days': { type: 'string', default: '1' }, json: { type: 'boolean', default: false } } });
const r = await runAgedStoreBench({
  days: Number(values.days), paymentsPerDay: Number(values['payments-per-day']), sweepDays: Number(values['sweep-days']),
  say: (line) => process.stderr.write(`bench: ${line}\n`),
});
console.log(values.json ? JSON.stringify(r) : formatAgedStore(r).join('\n'));
