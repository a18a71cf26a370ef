// The aged-store step alone: node dist/sim/bench/aged-store/main.js [--days N] [--payments-per-day N] [--sweep-days N]
import { parseArgs } from 'node:util';
import { formatAgedStore, runAgedStoreBench } from './bench.js';

const { values } = parseArgs({ options: { days: { type: 'string', default: '180' }, 'payments-per-day': { type: 'string', default: '10000' }, 'sweep-days': { type: 'string', default: '1' } } });
const r = await runAgedStoreBench({
  days: Number(values.days), paymentsPerDay: Number(values['payments-per-day']), sweepDays: Number(values['sweep-days']),
  say: (line) => process.stderr.write(`bench: ${line}\n`),
});
console.log(formatAgedStore(r).join('\n'));
