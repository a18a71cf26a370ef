// Every listening socket of a side opens here, so that a port already taken (another
// broker on 1883, a second gateway, a stale process) tells the operator one thing in
// one line: which address, what it was for, and who holds it when that can be seen.
import fs from 'node:fs';
import path from 'node:path';
import type net from 'node:net';

// Why a side stopped before it served. Its main prints `line` and exits with
// SIDE_EXIT.cannotListen: retrying cannot free a port someone else holds.
export class ListenError extends Error {
  constructor(readonly what: string, readonly address: string, readonly code: string, readonly line: string) {
    super(line);
    this.name = 'ListenError';
  }
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such address on this host',
};

export type ListenAt = { host: string; port: number } | { path: string };

export function listenOn(server: net.Server, at: ListenAt, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(listenError(err, at, what));
    server.once('error', fail);
    const done = () => {
      server.off('error', fail);
      resolve();
    };
    if ('path' in at) server.listen(at.path, done);
    else server.listen(at.port, at.host, done);
  });
}

export function listenError(err: NodeJS.ErrnoException, at: ListenAt, what: string): ListenError {
  const code = err.code ?? 'ERROR';
  const address = 'path' in at ? at.path : `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
  const holder = code === 'EADDRINUSE' && 'port' in at ? portHolder(at.port) : undefined;
  const line = `ferry: cannot listen on ${address} (${what}): ${REASONS[code] ?? err.message}${holder ? ` (held by ${holder})` : ''}`;
  return new ListenError(what, address, code, line);
}

// The process listening on a TCP port, from /proc: "mosquitto, pid 123". Undefined when
// it cannot be seen (another user's process, ProtectProc=invisible, not Linux).
export function portHolder(port: number): string | undefined {
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = fs.readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const row of text.split('\n').slice(1)) {
        const f = row.trim().split(/\s+/);
        // local_address is ADDR:PORT in hex; state 0A is LISTEN; column 9 the inode.
        if (f.length > 9 && f[3] === '0A' && parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(`socket:[${f[9]}]`);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let fds: string[];
      try {
        fds = fs.readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (inodes.has(target)) {
          const name = programName(pid);
          return name ? `${name}, pid ${pid}` : `pid ${pid}`;
        }
      }
    }
  } catch { /* no /proc: say nothing */ }
  return undefined;
}

// The program's name from its command line ("/usr/sbin/mosquitto" -> "mosquitto"),
// else the kernel's name for its main thread: Node.js 24 calls that "MainThread".
function programName(pid: string): string {
  try {
    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    if (argv0) return path.basename(argv0.split(' ')[0]!).replace(/:$/, '');
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return ''; // gone meanwhile
  }
}
