// `ferry sim payment-server`: the payment-server simulator on its own, for demos and for
// pointing a gateway at while its faults are changed through the control API.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { EXIT_OK, EXIT_USAGE, type Command } from '../command.js';
import { PaymentServerSim } from '../../../sim/payment-server/server.js';
import { isTimeZone, TIME_ZONE_DEFAULT } from '../../common/hospital-day.js';
import { listenError } from '../../common/listen.js';
import { SIDE_EXIT } from '../../common/side-exit.js';

const HELP = `Usage: ferry sim payment-server [options]

Runs the payment-server simulator until interrupted.

Options:
  --host H            address to listen on (default 127.0.0.1)
  --port N            port (default 8443; 0 picks a free one)
  --secret S          HMAC secret shared with the gateway
  --secret-file F     read the secret from a file instead (trailing newline ignored)
                      (or the FERRY_SIM_SECRET environment variable, which keeps
                      the secret off the process list; ferry start uses it)
  --notify-url URL    where to POST signed notifications (the gateway's notify endpoint)
  --qr-delay-ms N     how long a scan-to-pay takes to complete (default 2000)
  --time-zone Z       statements are of days in this IANA zone, as the gateway's
                      gateway.yaml timeZone (default ${TIME_ZONE_DEFAULT})
  --tls-cert F        serve HTTPS with this PEM certificate (with --tls-key)
  --tls-key F         its PEM private key
  --tls-ca F          CA that client certificates must come from
  --require-client-cert
                      mutual TLS: refuse clients without a certificate from --tls-ca
                      (ferry tls make-test-ca makes all of these for tests and demos)

Control API (unsigned, loopback only):
  GET  /_sim/state    payments, refunds, charges per order, deliveries, faults
  POST /_sim/faults   e.g. {"errorRate":0.2}, {"timeoutAfterCharge":1,"holdMs":5000},
                      {"down":true,"downForMs":10000}, {"duplicateNotifications":true}
`;

export const command: Command = {
  name: 'sim payment-server',
  summary: 'run the payment-server simulator',
  help: HELP,
  async run(args: string[]): Promise<number> {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        strict: true,
        options: {
          host: { type: 'string', default: '127.0.0.1' },
          port: { type: 'string', default: '8443' },
          secret: { type: 'string' },
          'secret-file': { type: 'string' },
          'notify-url': { type: 'string' },
          'qr-delay-ms': { type: 'string', default: '2000' },
          'time-zone': { type: 'string', default: TIME_ZONE_DEFAULT },
          'tls-cert': { type: 'string' },
          'tls-key': { type: 'string' },
          'tls-ca': { type: 'string' },
          'require-client-cert': { type: 'boolean', default: false },
          help: { type: 'boolean', default: false },
        },
      }));
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
      return EXIT_USAGE;
    }
    if (values.help) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    const port = Number(values.port);
    const qrDelayMs = Number(values['qr-delay-ms']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) return usage('--port must be 0..65535');
    if (!Number.isInteger(qrDelayMs) || qrDelayMs < 0) return usage('--qr-delay-ms must be a non-negative integer');
    const fromEnv = process.env.FERRY_SIM_SECRET;
    const given = [values.secret, values['secret-file'], fromEnv].filter((v) => v !== undefined).length;
    if (given === 0 || (values.secret !== undefined && values['secret-file'] !== undefined)) return usage('give exactly one of --secret and --secret-file (or set FERRY_SIM_SECRET)');
    const secret = values.secret ?? (values['secret-file'] !== undefined ? fs.readFileSync(values['secret-file'], 'utf8').replace(/\r?\n$/, '') : fromEnv!);
    if (secret.length === 0) return usage('the secret is empty');
    if (!isTimeZone(values['time-zone']!)) return usage(`--time-zone ${values['time-zone']} is not an IANA time zone`);
    if (values['notify-url'] !== undefined && !URL.canParse(values['notify-url'])) return usage('--notify-url is not a URL');

    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) return usage('give --tls-cert and --tls-key together');
    if (values['require-client-cert'] && values['tls-ca'] === undefined) return usage('--require-client-cert needs --tls-ca');
    if (values['tls-ca'] !== undefined && values['tls-cert'] === undefined) return usage('--tls-ca needs --tls-cert and --tls-key');
    const tls = values['tls-cert'] === undefined ? undefined : {
      cert: fs.readFileSync(values['tls-cert']), key: fs.readFileSync(values['tls-key']!),
      ...(values['tls-ca'] !== undefined ? { ca: fs.readFileSync(values['tls-ca']) } : {}),
      requireClientCert: values['require-client-cert'] ?? false,
    };

    const sim = new PaymentServerSim();
    const opts = { host: values.host!, port, secret, qrDelayMs, timeZone: values['time-zone']!, ...(values['notify-url'] ? { notifyUrl: values['notify-url'] } : {}), ...(tls ? { tls } : {}) };
    let url: string;
    try {
      ({ url } = await sim.start(opts));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
      // Under `ferry start` this status stops the gateway instead of a restart loop.
      process.stderr.write(`${listenError(err as NodeJS.ErrnoException, { host: opts.host, port }, 'payment-server simulator').line}\n`);
      return SIDE_EXIT.cannotListen;
    }
    process.stdout.write(`payment-server simulator listening on ${url}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await sim.stop();
    return EXIT_OK;
  },
};

function usage(message: string): number {
  process.stderr.write(`${message}\n\n${HELP}`);
  return EXIT_USAGE;
}
