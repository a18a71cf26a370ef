// The inner (medical side) process.
//
// SECURITY. Trusts: the rule files, its own store. Does not trust: anything a device
// sends (every byte passes the gap), anything the outer side sends (every record is
// re-validated in runtime/channel/records.ts). Touches: the medical NIC (MQTT), the
// store under --data, the channel socket. Never opens a connection toward the payment
// network: on gateway hardware it runs in the medical network namespace, which has no
// route there. Exposure: every kiosk and desk on the medical network.
import path from 'node:path';
import { createLogger } from '../common/logger.js';
import { reportClockSync, systemClockProbe } from '../common/clock-sync.js';
import { stopOnSignals } from '../common/shutdown.js';
import { loadRules } from '../rules/load.js';
import { applyOverrides, loadOrExit, parseOverrides } from '../rules/overrides.js';
import os from 'node:os';
import { startInner, type RunningInner } from './inner.js';
import { campaign, CampaignAborted, type Leader } from './ha/leadership.js';
import { startStandby, type RunningStandby } from './ha/standby.js';
import { configuredBackend } from './store/configured.js';
import { systemdNotifier } from '../common/systemd-notify.js';
import { tellSupervisorReady, exitOnStartFailure, SIDE_EXIT } from '../common/side-exit.js';
import { buildInfo } from '../common/build-info.js';
import { CLOCK_SPEED_ENV, clockFromEnv, systemClock } from '../common/clock.js';

const overrides = parseOverrides(process.argv.slice(2));
let loaded = loadOrExit(() => loadRules(path.resolve(overrides.rulesDir)));
let rules = { ...loaded, gateway: loadOrExit(() => applyOverrides(loaded.gateway, overrides)) };
const log = createLogger('inner', rules.gateway.log.level);
log.info({ ...buildInfo(), node: process.versions.node }, 'ferry inner side starting');
// Not awaited: the answer is for the operator's log and must not delay the start.
void reportClockSync(log, systemClockProbe());

// How long a box that lost its lock gives the broker to close before it exits anyway.
const STEP_DOWN_GRACE_MS = 1_000;

const clock = clockFromEnv(process.env);
if (clock !== systemClock) log.warn({ speed: process.env[CLOCK_SPEED_ENV] }, 'running on a simulation clock faster than real time');
const systemd = systemdNotifier({ clock, log });
// On the PostgreSQL backend this box is one of an active/standby pair.
const backend = await configuredBackend(rules.gateway.store).catch((err: unknown) => exitOnStartFailure('inner', err));
let inner: RunningInner | undefined;
let leader: Leader | undefined;
let standby: RunningStandby | undefined;
const stopCampaign = new AbortController();

stopOnSignals(log, 'inner side', async () => {
  systemd?.stopping(inner ? 'stopping: draining the store' : 'stopping: standby');
  stopCampaign.abort();
  try {
    await standby?.close();
    await inner?.close();
    await leader?.release(); // after the store's last write: the standby takes over at once
  } finally {
    await systemd?.close();
  }
});

// `systemctl reload`, or `ferry start` passing on its own SIGHUP: re-read the rules and
// the TLS certificate files (renewed certificates at the same paths; connected devices
// stay). gateway.yaml is read once: the reload logs each of its keys that changed, as
// needing a restart. `ferry devices …` ask for the same reload through the management API.
process.on('SIGHUP', () => {
  if (!inner) return; // a standby reads the rule files when it becomes active
  systemd?.status(servingStatus('reloading the rule files'));
  inner.reloadRules()
    .then((r) => systemd?.status(servingStatus(r.ok ? `rules reloaded ${new Date(clock.now()).toISOString()}` : 'rule reload refused, the running rules stay (see the log)')))
    .catch((err: Error) => log.error({ err: err.message }, 'rule reload failed'))
    .then(reloadTls);
});

if (backend.kind === 'postgres') {
  // One box of an active/standby pair (docs/ha.md): a standby until this box holds the
  // leader lock, then active with the epoch it took.
  const url = backend.url;
  const holder = `${os.hostname()}:${process.pid}`;
  let why = 'asking for the leader lock';
  standby = await startStandby({ management: rules.gateway.management, log, state: () => why }).catch((err: unknown) => exitOnStartFailure('inner', err));
  systemd?.ready(`standby: ${why}`);
  tellSupervisorReady();
  leader = await campaign({
    connectionString: url, holder, clock, log,
    onStandby: (reason) => {
      why = reason;
      systemd?.status(`standby: ${reason}`);
    },
  }, stopCampaign.signal).catch((err: unknown) => {
    if (err instanceof CampaignAborted) return undefined; // stopping: the signal handler exits
    return exitOnStartFailure('inner', err);
  });
  if (!leader) await new Promise(() => {}); // the stop in progress ends the process
  void leader!.lost.then(stepDown);
  await standby.close();
  standby = undefined;
  rereadRules();
  systemd?.status(`becoming active (epoch ${leader!.epoch}): opening the store, the broker and the management API`);
} else {
  systemd?.status('starting: opening the store, the broker and the management API');
}
const term = leader ? { ha: { epoch: leader.epoch, holder: leader.holder } } : {};
inner = await startInner({ rules, gatewayFile: loaded.gateway, dataDir: path.resolve(overrides.dataDir), log, clock, ...term }).catch((err: unknown) => exitOnStartFailure('inner', err));
if (leader) systemd?.status(servingStatus(`active, epoch ${leader.epoch}`));
else systemd?.ready(servingStatus());
tellSupervisorReady();

// A box that lost its lock is no longer the active one, and another may already be:
// whatever it still holds in memory (answers waiting, outbox timers, cached records) may
// be stale, and every write it tries is refused by the epoch. It stops taking device
// traffic at once and exits; the supervisor starts it again, as a standby, from nothing.
function stepDown(err: Error): void {
  log.fatal({ err: err.message }, 'leader lock lost: closing the MQTT listener and exiting, to start again as the standby');
  systemd?.status('stepping down: the leader lock was lost');
  const broker = inner?.broker;
  const exit = () => process.exit(SIDE_EXIT.steppedDown);
  if (!broker) return exit();
  // Bounded: the exit must not wait on a device that does not read.
  clock.setTimeout(exit, STEP_DOWN_GRACE_MS).unref();
  broker.close().then(exit, exit);
}

// A standby may have waited for days: the rule files it read at its start may have been
// edited since (and reloaded on the active box). It serves what the files say now, or,
// when they do not load, what they said when it started.
function rereadRules(): void {
  try {
    const fresh = loadRules(path.resolve(overrides.rulesDir));
    rules = { ...fresh, gateway: applyOverrides(fresh.gateway, overrides) };
    loaded = fresh;
  } catch (err) {
    log.error({ problems: (err as Error).message }, 'rule files not re-read on becoming active: they do not load; the rules read at the start stay');
  }
}

// What `systemctl status ferry-inner` shows while the side serves.
function servingStatus(note?: string): string {
  const mqtt = rules.gateway.mqtt;
  const tls = inner!.broker.tlsPort !== undefined ? `, MQTTS :${inner!.broker.tlsPort}` : '';
  const management = inner!.query.managementUrl();
  return `serving: MQTT ${mqtt.host}:${inner!.broker.port}${tls}, ${management ? `management ${management}` : 'no management API'}${note ? `; ${note}` : ''}`;
}
function reloadTls(): void {
  try {
    if (!inner!.broker.reloadTls()) return;
    log.info('TLS certificates reloaded');
    void inner!.store.audit({ kind: 'tls.reloaded' }).catch(() => {});
  } catch (err) {
    log.error({ err: (err as Error).message }, 'TLS certificates not reloaded; the running ones stay');
    void inner!.store.audit({ kind: 'tls.reload_refused', problem: (err as Error).message.slice(0, 500) }).catch(() => {});
  }
}
