// A real PostgreSQL server for the tests, made by the test itself: Debian's postgresql
// binaries, a cluster in a temporary directory, run as the unprivileged `postgres` user
// (PostgreSQL refuses to run as root), listening on 127.0.0.1 on a free port with trust
// authentication. It lives as long as the suite that starts it; stop() removes it all.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import YAML from 'yaml';
import { freePort } from '../../sim/gateway-processes.js';

const SUPERUSER = 'ferry';
const RUN_AS = 'postgres';

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  // A connection string to the database `name` (see createDatabase).
  url(name?: string): string;
  // A new empty database; its connection string.
  createDatabase(name: string): Promise<string>;
  // Stops the server ('fast' ends every connection; 'immediate' is a crash, recovered
  // from the WAL on the next start) and starts it again on the same port.
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stopServer(mode?: 'fast' | 'immediate'): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

// Where Debian puts a PostgreSQL's binaries, the newest first; undefined without one.
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(bin, 'pg_ctl')) && fs.existsSync(path.join(bin, 'initdb'))) return bin;
  }
  return undefined;
}

// Why the PostgreSQL suites cannot run here, or undefined when they can.
export function postgresUnavailable(): string | undefined {
  if (!postgresBinDir()) return 'PostgreSQL is not installed (apt-get install postgresql)';
  if (process.getuid?.() !== 0) return 'the tests start PostgreSQL as the postgres user, which needs root';
  if (spawnSync('id', ['-u', RUN_AS]).status !== 0) return `there is no ${RUN_AS} user to run PostgreSQL as`;
  return undefined;
}

function asPostgres(bin: string, args: string[], opts: { timeoutMs?: number } = {}): string {
  return execFileSync('setpriv', ['--reuid', RUN_AS, '--regid', RUN_AS, '--clear-groups', '--', bin, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const why = postgresUnavailable();
  if (why) throw new Error(why);
  const bin = postgresBinDir()!;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-pg-'));
  fs.chmodSync(base, 0o755);
  const dataDir = path.join(base, 'data');
  const socketDir = path.join(base, 'run');
  fs.mkdirSync(socketDir);
  execFileSync('chown', ['-R', `${RUN_AS}:${RUN_AS}`, base]);
  asPostgres(path.join(bin, 'initdb'), ['-D', dataDir, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const host = '127.0.0.1';
  const logFile = path.join(base, 'server.log');
  // fsync off: a test cluster only ever loses its data to a machine crash, and the suites
  // that restart it use PostgreSQL's own crash recovery ('immediate'), which needs no fsync.
  const options = `-c listen_addresses=${host} -p ${port} -k ${socketDir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const startServer = async (): Promise<void> => {
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
  };
  const stopServer = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    asPostgres(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  };
  await startServer();
  const url = (name = 'postgres'): string => `postgres://${SUPERUSER}@${host}:${port}/${name}`;
  let stopped = false;
  return {
    host,
    port,
    dataDir,
    url,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`${name}: a test database name is lower-case letters, digits and _`);
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
      await stopServer(mode);
      await startServer();
    },
    stopServer,
    startServer,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        await stopServer('immediate');
      } catch {
        // not running
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

// Makes the rule files in rulesDir those of a box of a pair: the store on the database at
// url (its connection string in a file next to the rules, as an operator keeps it) and a
// management API on a fixed port, which /readyz answers on for the standby too.
export function configurePairBox(rulesDir: string, url: string, management: { port: number; token: string }): void {
  fs.writeFileSync(path.join(rulesDir, 'postgres.url'), `${url}\n`, { mode: 0o600 });
  const file = path.join(rulesDir, 'gateway.yaml');
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'));
  doc.set('store', doc.createNode({ backend: 'postgres', postgres: { urlFile: 'postgres.url' } }));
  doc.set('management', doc.createNode({ host: '127.0.0.1', port: management.port, token: management.token, adminToken: `${management.token}-admin` }));
  fs.writeFileSync(file, doc.toString());
}

// uvu's test, but one that says why and passes where PostgreSQL cannot run here.
export function testWithPostgres(test: (name: string, fn: () => Promise<void>) => void, why: string | undefined) {
  return (name: string, fn: () => Promise<void>): void => test(name, async () => {
    if (why) {
      console.log(`  skipped: ${why}`);
      return;
    }
    await fn();
  });
}
