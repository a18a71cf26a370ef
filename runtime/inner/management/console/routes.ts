// The console's routes on the management listener. The page, its style sheet and its
// script are served without a token (a browser cannot put one on a page load) and hold
// no data; the data, GET /v1/console, needs the read token like every other route.
//   GET /  and  /console          the page
//   GET /console/console.css      its style sheet
//   GET /console/console.js       its script (browser.ts, compiled)
//   GET /v1/console               the snapshot (read token), see snapshot.ts
// They reach the listener as one of its `routes` (server.ts), beside /metrics and the
// health routes.
import fs from 'node:fs';
import { errorEntry, httpStatus } from '../../../common/errors.js';
import type { ManagementRoutes, RawAnswer } from '../monitoring.js';
import { CONSOLE_CSS, CONSOLE_HTML } from './page.js';
import type { ConsoleData } from './snapshot.js';

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

const json = (status: number, body: unknown, headers: Record<string, string> = {}): RawAnswer => ({
  status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers }, body: JSON.stringify(body),
});

const refusal = (code: 'UNAUTHORIZED' | 'METHOD_NOT_ALLOWED' | 'INTERNAL', message: string, headers: Record<string, string> = {}): RawAnswer =>
  json(httpStatus('management', code), { error: code, message }, headers);

// The page's files for anyone; the snapshot for the read (or admin) token. Anything else
// is left to the API's routes (undefined).
export function consoleRoutes(data: ConsoleData, onError: (err: Error) => void): ManagementRoutes {
  return (req, access) => {
    const { pathname } = new URL(req.url ?? '/', 'http://management');
    const file = FILES[pathname];
    if (!file && pathname !== CONSOLE_SNAPSHOT_PATH) return undefined;
    req.resume(); // none takes a body
    if (req.method !== 'GET' && req.method !== 'HEAD') return Promise.resolve(refusal('METHOD_NOT_ALLOWED', 'use GET'));
    if (file) return Promise.resolve({ status: 200, headers: { ...PAGE_HEADERS, 'content-type': file.type }, body: file.body });
    if (!access) return Promise.resolve(refusal('UNAUTHORIZED', errorEntry('management', 'UNAUTHORIZED').message, { 'www-authenticate': 'Bearer' }));
    return data.snapshot().then((snapshot) => json(200, snapshot), (err: Error) => {
      onError(err);
      return refusal('INTERNAL', 'internal error; see the gateway log');
    });
  };
}
