// The gateway as real child processes, for the tests that kill one side: the runner in
// sim/gateway-processes.ts with the example rules by default.
import { ProcessGateway as Runner, freePort, type ProcessGatewayOptions } from '../../sim/gateway-processes.js';
import { PaymentServerSim } from '../../sim/payment-server/server.js';
import { loadGatewayConfig } from '../../runtime/rules/load.js';
import fs from 'node:fs';
import path from 'node:path';
import { EXAMPLE_RULES, tempDir } from './gateway.js';
import { urlFileFor } from './store-backend.js';

export { freePort };

export const ProcessGateway = {
  create(opts: Omit<ProcessGatewayOptions, 'rulesDir'> & { rulesDir?: string }): Promise<Runner> {
    return Runner.create({ ...opts, rulesDir: opts.rulesDir ?? EXAMPLE_RULES });
  },
};

// A payment simulator with the rules' secret and a process gateway relaying to it, each
// told the other's address; neither side is started yet. The caller closes both.
export async function processGatewayWithSim(o: { rulesDir: string; dataName: string; qrDelayMs?: number }): Promise<{ sim: PaymentServerSim; gw: Runner; dataDir: string }> {
  const secret = loadGatewayConfig(o.rulesDir).payment.secret;
  const sim = new PaymentServerSim();
  const { url } = await sim.start({ host: '127.0.0.1', port: 0, secret, qrDelayMs: o.qrDelayMs ?? 100 });
  const dataDir = tempDir(o.dataName);
  // The PostgreSQL pass: the rules (the test's own copy) name dataDir's database.
  const urlFile = await urlFileFor(dataDir);
  if (urlFile) fs.appendFileSync(path.join(o.rulesDir, 'gateway.yaml'), `\nstore:\n  backend: postgres\n  postgres:\n    urlFile: ${urlFile}\n`);
  const gw = await ProcessGateway.create({ dataDir, paymentUrl: url, rulesDir: o.rulesDir });
  sim.setNotifyUrl(gw.notifyUrl);
  return { sim, gw, dataDir };
}
