// The console's routes on the management listener. The page, its style sheet and its
// script are served without a token (a browser cannot put one on a page load) and hold
// no data; the data, GET /v1/console, needs the read token like every other route.
//   GET /  and  /console          the page
//   GET /console/console.css      its style sheet
//   GET /console/console.js       its script (browser.ts, compiled)
//   GET /v1/console               the snapshot (read token), see snapshot.ts
import fs from 'node:fs';
import type http from 'node:http';
import { CONSOLE_CSS, CONSOLE_HTML } from './page.js';

export const CONSOLE_SNAPSHOT_PATH = '/v1/console';

// Nothing but this origin's own files; no inline script or style, no framing, no
// forms posting anywhere, no referrer leaking the box's address.
const PAGE_HEADERS = Object.freeze({
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // The files change only with a new version of Ferry; revalidating each load is cheap.
  'cache-control': 'no-cache',
});

// The compiled script, read once; its source map comment is dropped (the map needs no
// route of its own).
const SCRIPT = fs.readFileSync(new URL('./browser.js', import.meta.url), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');

const FILES: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: CONSOLE_HTML },
  '/console': { type: 'text/html; charset=utf-8', body: CONSOLE_HTML },
  '/console/': { type: 'text/html; charset=utf-8', body: CONSOLE_HTML },
  '/console/console.css': { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
  '/console/console.js': { type: 'text/javascript; charset=utf-8', body: SCRIPT },
};

// Answers a GET (or HEAD) of one of the console's files and says so; anything else is
// left to the API's routes.
export function serveConsoleFile(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const file = FILES[new URL(req.url ?? '/', 'http://management').pathname];
  if (!file) return false;
  req.resume();
  res.writeHead(200, { ...PAGE_HEADERS, 'content-type': file.type, 'content-length': Buffer.byteLength(file.body) });
  res.end(req.method === 'HEAD' ? undefined : file.body);
  return true;
}
