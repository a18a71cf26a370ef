// aedes has no limit on the size of an incoming MQTT packet: its parser buffers
// whatever remaining length a client declares (up to 256 MiB). This guard reads the
// fixed header of every packet as the bytes arrive and cuts off a client that declares
// a packet larger than the limit, before the parser has buffered it.
import type { Socket } from 'node:net';

// The largest payload a rule may allow (1 MiB) plus room for the topic and header.
export const MQTT_PACKET_BYTES_MAX = 1024 * 1024 + 1024;

export function guardPacketSize(socket: Socket, maxBytes: number, onOversize: (declared: number) => void): void {
  let skip = 0; // bytes of the current packet's body still to pass
  let header: number[] = []; // fixed-header bytes read so far (type byte + length bytes)

  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      header.push(chunk[i]!);
      i += 1;
      if (header.length === 1) continue; // the packet type byte
      const lengthByte = header[header.length - 1]!;
      if (lengthByte & 0x80) {
        if (header.length > 4) return cut(-1); // [MQTT-2.2.3] at most four length bytes
        continue;
      }
      let length = 0;
      for (let k = header.length - 1; k >= 1; k--) length = length * 128 + (header[k]! & 0x7f);
      header = [];
      if (length > maxBytes) return cut(length);
      skip = length;
    }
  });

  function cut(declared: number): void {
    onOversize(declared);
    socket.destroy();
  }
}
