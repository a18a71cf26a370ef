// ferry start: checks the rules (fail closed), then supervises the inner and the outer
// process, plus the embedded payment-server simulator when no payment server is set.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../command.js';
import { createLogger } from '../../common/logger.js';
import { loadRules } from '../../rules/load.js';
import { RulesError } from '../../rules/types.js';
import { applyOverrides, OVERRIDE_HELP, parseOverrides, type Overrides, toArgs } from '../../rules/overrides.js';
import { Supervisor, type ChildSpec } from '../../supervisor/supervisor.js';
import { SIDE_EXIT_FATAL } from '../../common/side-exit.js';
import { reachableHost } from '../../rules/management-address.js';
import { systemdNotifier } from '../../common/systemd-notify.js';
import { systemClock } from '../../common/clock.js';
import { SIDE_NODE_FLAGS } from '../../common/node-flags.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const INNER_MAIN = path.resolve(here, '../../inner/main.js');
const OUTER_MAIN = path.resolve(here, '../../outer/main.js');
const FERRY_BIN = path.resolve(here, '../../../../bin/ferry.js');

export const command: Command = {
  name: 'start',
  summary: 'run the gateway: inner and outer processes under a supervisor',
  help: `Usage: ferry start [options]

Runs the gateway on the rule files: the inner (medical side) process with the MQTT
broker, the gap and the store, and the outer (payment side) process with the relay.
Both are restarted if they crash. SIGHUP makes the inner side re-read devices.yaml,
roles.yaml and messages.yaml (kept as they were if the new files do not load); a
changed gateway.yaml key is logged as needing a restart. On a terminal the log is
readable lines; otherwise JSON lines, with a journald priority prefix (<N>) when stdout
is the systemd journal. When gateway.yaml names no payment server
(payment.url: null) and --payment-url is not given, the embedded payment-server
simulator is started too, and the log says so. Refuses to start on bad rule files.

Options:
${OVERRIDE_HELP}
  -h, --help           this text`,

  async run(args) {
    let overrides: Overrides;
    try {
      overrides = parseOverrides(args);
    } catch (err) {
      process.stderr.write(`ferry start: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    let gateway;
    try {
      gateway = applyOverrides(loadRules(path.resolve(overrides.rulesDir)).gateway, overrides);
    } catch (err) {
      if (err instanceof RulesError) {
        process.stderr.write(`ferry start: refusing to start on bad rule files in ${overrides.rulesDir}:\n${err.message}\n`);
        return EXIT_FAILURE;
      }
      process.stderr.write(`ferry start: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    const log = createLogger('ferry', gateway.log.level);
    fs.mkdirSync(path.resolve(overrides.dataDir), { recursive: true, mode: 0o750 });

    const children: ChildSpec[] = [];
    let childOverrides = overrides;
    if (!gateway.payment.url) {
      const simUrl = `http://${gateway.payment.simulatorHost}:${gateway.payment.simulatorPort}`;
      const notifyUrl = `http://${reachableHost(gateway.notify.host)}:${gateway.notify.port}/v1/notifications`;
      log.warn({ simUrl }, 'no payment server configured: starting the embedded payment-server simulator (demo and test use only)');
      children.push({
        name: 'payment-sim', script: FERRY_BIN,
        args: ['sim', 'payment-server', '--host', gateway.payment.simulatorHost, '--port', String(gateway.payment.simulatorPort), '--notify-url', notifyUrl, '--time-zone', gateway.timeZone],
        env: { FERRY_SIM_SECRET: gateway.payment.secret, FERRY_LOG_LEVEL: gateway.log.level },
      });
      childOverrides = { ...overrides, values: { ...overrides.values, 'payment-url': simUrl } };
    }
    children.push({ name: 'inner', script: INNER_MAIN, args: toArgs(overrides), nodeFlags: SIDE_NODE_FLAGS.inner });
    children.push({ name: 'outer', script: OUTER_MAIN, args: toArgs(childOverrides), nodeFlags: SIDE_NODE_FLAGS.outer });

    const supervisor = new Supervisor(children, log, { fatalExitCodes: SIDE_EXIT_FATAL });
    // Run by hand nothing is sent; as the ExecStart of a Type=notify unit (an evaluation
    // box without the two side units), the gateway is ready once both sides serve.
    const systemd = systemdNotifier({ clock: systemClock, log });
    const serving = new Set<string>();
    let wasReady = false;
    supervisor.on('ready', (child) => {
      serving.add(child);
      if (!serving.has('inner') || !serving.has('outer')) return;
      log.info('gateway ready: the inner and the outer side serve');
      if (wasReady) systemd?.status('serving: inner and outer');
      else systemd?.ready('serving: inner and outer');
      wasReady = true;
    });
    supervisor.on('restart', ({ child }) => {
      serving.delete(child);
      systemd?.status(`restarting the ${child} process`);
    });
    supervisor.start();
    let status = EXIT_OK;
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'stopping the gateway');
        systemd?.stopping();
        supervisor.stop().then(resolve, resolve);
      };
      // The child has said why on stderr (a port taken, no payment server): the gateway
      // stops whole rather than run half, and `ferry start` exits 1.
      supervisor.once('fatal', ({ child }) => {
        status = EXIT_FAILURE;
        log.info({ child }, 'stopping the gateway: a part of it cannot run');
        systemd?.stopping(`stopping: the ${child} process cannot run (see the log)`);
        supervisor.stop().then(resolve, resolve);
      });
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', () => {
        log.info('SIGHUP: the inner side re-reads the rule files');
        supervisor.signal('inner', 'SIGHUP');
      });
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await systemd?.close();
    return status;
  },
};
