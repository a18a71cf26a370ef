// The payment simulator as a process of its own, for the bench: it stands for another
// organisation's server, and in its own process its CPU time per payment is read apart
// from the load generators'. The secret comes in FERRY_SIM_SECRET (not on the command
// line, where `ps` shows it). Prints `listening <url>`; GET /_sim/charges answers the
// charges so far. Run: FERRY_SIM_SECRET=... node dist/sim/payment-server/process.js
import { pathToFileURL } from 'node:url';
import { PaymentServerSim } from './server.js';

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const secret = process.env.FERRY_SIM_SECRET ?? '';
  if (secret === '') throw new Error('FERRY_SIM_SECRET is not set');
  const sim = new PaymentServerSim();
  const { url } = await sim.start({ host: '127.0.0.1', port: 0, secret });
  process.stdout.write(`listening ${url}\n`);
  const stop = () => void sim.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
