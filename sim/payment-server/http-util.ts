// Small HTTP helpers for the simulator: bounded body reading and JSON answers.
import type http from 'node:http';
import { httpStatus, type CodeOf } from '../../runtime/common/errors.js';

export class BodyTooLargeError extends Error {}

export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLargeError(`body exceeds ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// A payment server's error answer: the code and its status from the catalogue (area
// `payment-server`), as the contract has them.
export function sendError(res: http.ServerResponse, code: CodeOf<'payment-server'>, more: Record<string, string> = {}): void {
  sendJson(res, httpStatus('payment-server', code), { error: code, ...more });
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
