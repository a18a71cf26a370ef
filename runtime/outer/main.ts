// The outer (payment side) process.
//
// SECURITY. Trusts: gateway.yaml (the payment server's address, the signing key, the TLS files).
// Does not trust: the payment server's answers and notifications (signatures checked,
// bodies validated) nor the inner side's records (re-validated). Touches: the payment
// NIC, the notification endpoint, the channel socket. Holds no store and no medical-side
// socket: it is stateless and may be restarted at any time; the inner side's journal
// resends whatever is open. It never reads devices.yaml or any patient data.
import path from 'node:path';
import { createLogger } from '../common/logger.js';
import { reportClockSync, systemClockProbe } from '../common/clock-sync.js';
import { stopOnSignals } from '../common/shutdown.js';
import { loadGatewayConfig } from '../rules/load.js';
import { applyOverrides, loadOrExit, parseOverrides } from '../rules/overrides.js';
import { startOuter } from './outer.js';
import { CLOCK_SPEED_ENV, clockFromEnv, systemClock } from '../common/clock.js';
import { readPemFiles } from '../tls/files.js';

const overrides = parseOverrides(process.argv.slice(2));
const gateway = loadOrExit(() => applyOverrides(loadGatewayConfig(path.resolve(overrides.rulesDir)), overrides));
const log = createLogger('outer', gateway.log.level);
// Not awaited: the answer is for the operator's log and must not delay the start.
void reportClockSync(log, systemClockProbe());
if (!gateway.payment.url) {
  log.fatal('no payment server configured (payment.url or --payment-url)');
  process.exit(2);
}

const clock = clockFromEnv(process.env);
if (clock !== systemClock) log.warn({ speed: process.env[CLOCK_SPEED_ENV] }, 'running on a simulation clock faster than real time');
const outer = await startOuter({
  clock,
  socketPath: path.resolve(overrides.dataDir, gateway.channel.socket),
  payment: {
    url: gateway.payment.url, secret: gateway.payment.secret, timeoutMs: gateway.payment.timeoutMs,
    // Mutual TLS toward the payment server: read once; a renewed client certificate
    // takes a restart of this stateless process.
    ...(gateway.payment.tls ? { tls: readPemFiles(path.resolve(overrides.rulesDir), gateway.payment.tls) } : {}),
  },
  notify: gateway.notify,
  log,
});
log.info({ paymentUrl: gateway.payment.url, notifyUrl: outer.notifyUrl }, 'outer side ready');

stopOnSignals(log, 'outer side', () => outer.close());
