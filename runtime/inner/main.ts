// The inner (medical side) process.
//
// SECURITY. Trusts: the rule files, its own store. Does not trust: anything a device
// sends (every byte passes the gap), anything the outer side sends (every record is
// re-validated in runtime/channel/records.ts). Touches: the medical NIC (MQTT), the
// store under --data, the channel socket. Never opens a connection toward the payment
// network: on gateway hardware it runs in the medical network namespace, which has no
// route there. Exposure: every kiosk and desk on the medical network.
import './heap-flags.js'; // first: V8's heap settings apply before the rest is loaded
import path from 'node:path';
import { createLogger } from '../common/logger.js';
import { reportClockSync, systemClockProbe } from '../common/clock-sync.js';
import { stopOnSignals } from '../common/shutdown.js';
import { loadRules } from '../rules/load.js';
import { applyOverrides, loadOrExit, parseOverrides } from '../rules/overrides.js';
import { startInner } from './inner.js';
import { systemdNotifier } from '../common/systemd-notify.js';
import { tellSupervisorReady, exitOnStartFailure } from '../common/side-exit.js';
import { buildInfo } from '../common/build-info.js';
import { CLOCK_SPEED_ENV, clockFromEnv, systemClock } from '../common/clock.js';

const overrides = parseOverrides(process.argv.slice(2));
const loaded = loadOrExit(() => loadRules(path.resolve(overrides.rulesDir)));
const rules = { ...loaded, gateway: loadOrExit(() => applyOverrides(loaded.gateway, overrides)) };
const log = createLogger('inner', rules.gateway.log.level);
log.info({ ...buildInfo(), node: process.versions.node }, 'ferry inner side starting');
// Not awaited: the answer is for the operator's log and must not delay the start.
void reportClockSync(log, systemClockProbe());

const clock = clockFromEnv(process.env);
if (clock !== systemClock) log.warn({ speed: process.env[CLOCK_SPEED_ENV] }, 'running on a simulation clock faster than real time');
const systemd = systemdNotifier({ clock, log });
systemd?.status('starting: opening the store, the broker and the management API');
const inner = await startInner({ rules, gatewayFile: loaded.gateway, dataDir: path.resolve(overrides.dataDir), log, clock }).catch((err: unknown) => exitOnStartFailure('inner', err));
systemd?.ready(servingStatus());
tellSupervisorReady();

stopOnSignals(log, 'inner side', async () => {
  systemd?.stopping('stopping: draining the store');
  try {
    await inner.close();
  } finally {
    await systemd?.close();
  }
});

// What `systemctl status ferry-inner` shows while the side serves.
function servingStatus(note?: string): string {
  const mqtt = rules.gateway.mqtt;
  const tls = inner.broker.tlsPort !== undefined ? `, MQTTS :${inner.broker.tlsPort}` : '';
  const management = inner.query.managementUrl();
  return `serving: MQTT ${mqtt.host}:${inner.broker.port}${tls}, ${management ? `management ${management}` : 'no management API'}${note ? `; ${note}` : ''}`;
}
// `systemctl reload`, or `ferry start` passing on its own SIGHUP: re-read the rules and
// the TLS certificate files (renewed certificates at the same paths; connected devices
// stay). gateway.yaml is read once: the reload logs each of its keys that changed, as
// needing a restart. `ferry devices …` ask for the same reload through the management API.
process.on('SIGHUP', () => {
  systemd?.status(servingStatus('reloading the rule files'));
  inner.reloadRules()
    .then((r) => systemd?.status(servingStatus(r.ok ? `rules reloaded ${new Date(clock.now()).toISOString()}` : 'rule reload refused, the running rules stay (see the log)')))
    .catch((err: Error) => log.error({ err: err.message }, 'rule reload failed'))
    .then(reloadTls);
});

function reloadTls(): void {
  try {
    if (!inner.broker.reloadTls()) return;
    log.info('TLS certificates reloaded');
    void inner.store.audit({ kind: 'tls.reloaded' }).catch(() => {});
  } catch (err) {
    log.error({ err: (err as Error).message }, 'TLS certificates not reloaded; the running ones stay');
    void inner.store.audit({ kind: 'tls.reload_refused', problem: (err as Error).message.slice(0, 500) }).catch(() => {});
  }
}
