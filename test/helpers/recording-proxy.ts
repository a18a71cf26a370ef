// A real HTTP proxy on 127.0.0.1 that forwards every request unchanged to a target and
// records both directions, so that a test can hold what the relay sent and what the
// simulator (or the notification endpoint) answered against the contract. An optional
// `inject` answers a request itself (or drops its connection) instead of forwarding it,
// to see what the relay does with a status the simulator never produces.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string; // as sent, query included
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number | undefined; // undefined: no answer (connection refused or dropped)
  answer: string | undefined;
  injected: boolean;
}

export type Injection = { status: number; body: unknown } | 'drop' | undefined;

export interface RecordingProxy {
  url: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: () => string, inject: (ex: Exchange) => Injection = () => undefined): Promise<RecordingProxy> {
  const exchanges: Exchange[] = [];
  const upstream = new Set<http.ClientRequest>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ex: Exchange = {
        method: req.method ?? '', path: req.url ?? '/', headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'), status: undefined, answer: undefined, injected: false,
      };
      exchanges.push(ex);
      const injection = inject(ex);
      if (injection !== undefined) {
        ex.injected = true;
        if (injection === 'drop') return void req.socket.destroy();
        ex.status = injection.status;
        ex.answer = JSON.stringify(injection.body);
        res.writeHead(ex.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(ex.answer) });
        return void res.end(ex.answer);
      }
      const base = new URL(target());
      const headers = { ...req.headers, host: base.host };
      const up = http.request({ hostname: base.hostname, port: base.port, method: ex.method, path: ex.path, headers, agent: false }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          upstream.delete(up);
          ex.status = answer.statusCode;
          ex.answer = Buffer.concat(parts).toString('utf8');
          if (res.destroyed || res.writableEnded) return;
          res.writeHead(ex.status ?? 502, answer.headers);
          res.end(ex.answer);
        });
        answer.on('error', () => req.socket.destroy());
      });
      upstream.add(up);
      // The target refused or dropped the connection: so does the proxy, as an outage would.
      up.on('error', () => {
        upstream.delete(up);
        req.socket.destroy();
      });
      up.end(ex.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () => new Promise<void>((resolve) => {
      for (const up of upstream) up.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
