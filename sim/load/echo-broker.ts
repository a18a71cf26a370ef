// The bench's baseline: a plain Aedes broker (the version Ferry uses, TCP_NODELAY as
// Ferry's) with an echo responder and no checks at all: no authentication, no ACL, no
// schema, no store. A request on dev/{id}/up/{type} is answered on dev/{id}/down with a
// payment.result of the size Ferry's is, naming the request's id, so that the same
// device client code measures the bare broker round trip.
// Run as a process: node dist/sim/load/echo-broker.js [port]; prints `listening <port>`.
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Aedes } from 'aedes';

export interface EchoBroker {
  port: number;
  close(): Promise<void>;
}

export async function startEchoBroker(port = 0, host = '127.0.0.1'): Promise<EchoBroker> {
  const aedes = await Aedes.createBroker();
  await new Promise<void>((resolve, reject) => aedes.subscribe('dev/+/up/+', (packet, done) => {
    const device = packet.topic.split('/')[1]!;
    const reply = echo(packet.payload as Buffer);
    aedes.publish({ cmd: 'publish', topic: `dev/${device}/down`, payload: reply, qos: 1, retain: false, dup: false }, () => {});
    done();
  }, (err?: Error) => (err ? reject(err) : resolve())));
  const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closed;
    },
  };
}

function echo(payload: Buffer): Buffer {
  let request: { id?: string; body?: { billId?: string; amount?: number } } = {};
  try {
    request = JSON.parse(payload.toString('utf8'));
  } catch {
    // an unreadable request still gets an answer: the baseline checks nothing
  }
  return Buffer.from(JSON.stringify({
    v: 1, id: randomUUID(), re: request.id, type: 'payment.result', ts: new Date().toISOString(),
    body: { orderId: 'P20261126-kqzd-000001', billId: request.body?.billId, amount: request.body?.amount, currency: 'CNY', status: 'succeeded' },
  }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const broker = await startEchoBroker(Number(process.argv[2] ?? 0));
  process.stdout.write(`listening ${broker.port}\n`);
  const stop = () => void broker.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
