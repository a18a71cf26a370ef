// One socket write per event-loop turn for a device connection. mqtt-packet corks the
// socket for each packet and uncorks on the next tick, and aedes writes every delivery
// from a setImmediate of its own, so packets that go to one device in the same turn (a
// PUBACK and the reply that follows it, an outbox or dispatch burst, several notices to a
// billing desk) each cost a writev. Holding one more cork until the turn's check phase
// lets them leave together, in the order they were written: corking only delays the
// flush, it never reorders or drops what the stream has buffered.
import type { Duplex } from 'node:stream';

export function corkPerTurn(socket: Duplex): void {
  const cork = socket.cork.bind(socket);
  let held = false;
  const release = () => {
    held = false;
    // A socket that has closed has nothing left to flush.
    if (!socket.destroyed) socket.uncork();
  };
  // mqtt-packet calls cork() before every packet it writes, so this sees each one.
  socket.cork = () => {
    if (!held && !socket.destroyed) {
      held = true;
      cork();
      setImmediate(release);
    }
    cork();
  };
}
