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
import { systemdNotifier } from '../common/systemd-notify.js';
import { tellSupervisorReady, exitOnStartFailure, SIDE_EXIT } from '../common/side-exit.js';
import { buildInfo } from '../common/build-info.js';

const overrides = parseOverrides(process.argv.slice(2));
const gateway = loadOrExit(() => applyOverrides(loadGatewayConfig(path.resolve(overrides.rulesDir)), overrides));
const log = createLogger('outer', gateway.log.level);
log.info({ ...buildInfo(), node: process.versions.node }, 'ferry outer side starting');
// Not awaited: the answer is for the operator's log and must not delay the start.
void reportClockSync(log, systemClockProbe());
if (!gateway.payment.url) {
  log.fatal('no payment server configured (payment.url or --payment-url)');
  process.exit(SIDE_EXIT.noPaymentServer);
}

const clock = clockFromEnv(process.env);
if (clock !== systemClock) log.warn({ speed: process.env[CLOCK_SPEED_ENV] }, 'running on a simulation clock faster than real time');
const systemd = systemdNotifier({ clock, log });
systemd?.status('starting: opening the payment notification endpoint');
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
}).catch((err: unknown) => exitOnStartFailure('outer', err));
log.info({ paymentUrl: gateway.payment.url, notifyUrl: outer.notifyUrl }, 'outer side ready');
// The payment server's host only: a URL may carry user:password.
systemd?.ready(`serving: notifications on ${outer.notifyUrl}, relaying to ${new URL(gateway.payment.url).host}`);
tellSupervisorReady();

stopOnSignals(log, 'outer side', async () => {
  systemd?.stopping('stopping: closing the relay');
  try {
    await outer.close();
  } finally {
    await systemd?.close();
  }
});
