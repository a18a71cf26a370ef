// A cap on the sockets one remote address holds open on a server. Node caps only the
// total (server.maxConnections), so one host could take every socket; past this cap its
// new sockets are closed at once. Used by the management API and the notify endpoint.
import type { Server, Socket } from 'node:net';
import { assert } from './errors.js';

export function limitPerAddress(server: Server, max: number, refused: (remote: string) => void): void {
  assert(max >= 1, 'at least one connection per address');
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const remote = socket.remoteAddress ?? 'unknown';
    const n = open.get(remote) ?? 0;
    if (n >= max) {
      refused(remote);
      socket.destroy();
      return;
    }
    open.set(remote, n + 1);
    socket.once('close', () => {
      const left = (open.get(remote) ?? 1) - 1;
      if (left > 0) open.set(remote, left);
      else open.delete(remote);
    });
  });
}
