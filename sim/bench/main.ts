// npm run bench: every benchmark, figures only. Issue 6 adds the comparison with a
// bare Aedes broker measured in the same run.
import os from 'node:os';
import { formatStoreBench, runStoreBench } from './store-bench.js';
import { formatPaymentsBench, runPaymentsBench } from './payments-bench.js';

console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
console.log(formatStoreBench(await runStoreBench()));
console.log(formatPaymentsBench(await runPaymentsBench(2000, 50)));
console.log(formatPaymentsBench(await runPaymentsBench(1000, 1)));
