// The management listener's routes for monitoring (README.md, "Operating Ferry"):
//   GET /metrics                       Prometheus text format, both sides   read token
//   GET /healthz                       the inner process answers            no token
//   GET /readyz, /readyz/inner, /readyz/outer   readiness checks, per side  no token
// The health routes take no token: a keepalived check script or a load balancer asks
// them, and they say only which part is up (no patient, order or device appears in
// them). The metrics need the read token, as every other read of the API does.
import type http from 'node:http';
import { buildInfo } from '../../common/build-info.js';
import { errorEntry, httpStatus } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { InnerMetrics } from '../metrics/registry.js';
import type { Check } from '../metrics/outer-report.js';
import type { Access } from './auth.js';

export type { Check } from '../metrics/outer-report.js';
export const SIDES = ['inner', 'outer'] as const;
export type SideName = (typeof SIDES)[number];

export interface Readiness {
  checks(side: SideName): Check[];
  // In an active/standby pair, this box's role (docs/ha.md); undefined on a single box.
  role?(): HaRole | undefined;
}

export type HaRole = 'active' | 'standby';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// A route of the management listener outside its JSON API: given the request and the
// access its token grants (null without a valid one), an answer, or undefined when the
// path is not one of these routes.
export type ManagementRoutes = (req: http.IncomingMessage, access: Access | null) => Promise<RawAnswer> | undefined;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): RawAnswer => ({
  status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body),
});

const refusal = (code: 'UNAUTHORIZED' | 'METHOD_NOT_ALLOWED' | 'NOT_FOUND' | 'INTERNAL', message?: string, headers: Record<string, string> = {}): RawAnswer =>
  json(httpStatus('management', code), { error: code, message: message ?? errorEntry('management', code).message }, headers);

export function monitoringRoutes(o: { metrics: InnerMetrics; readiness: Readiness; log: Logger }): ManagementRoutes {
  return (req, access) => {
    const { pathname } = new URL(req.url ?? '/', 'http://management');
    const route = pathname === '/metrics' ? 'metrics' : pathname === '/healthz' ? 'healthz' : /^\/readyz(\/(inner|outer))?$/.exec(pathname);
    if (route === null) return undefined;
    req.resume(); // none takes a body
    const answer = async (): Promise<RawAnswer> => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return refusal('METHOD_NOT_ALLOWED', 'use GET');
      if (route === 'healthz') return json(200, { alive: true });
      if (route === 'metrics') {
        if (!access) return refusal('UNAUTHORIZED', 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
        const { contentType, text } = await o.metrics.exposition();
        return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body: text };
      }
      const sides: readonly SideName[] = route[2] ? [route[2] as SideName] : SIDES;
      return readyAnswer(o.readiness, sides);
    };
    return answer().catch((err: unknown) => {
      o.log.error({ err: (err as Error).stack }, 'monitoring request failed');
      return refusal('INTERNAL');
    });
  };
}

// Each answer names the build that gives it (the inner side's version and commit, and the
// Node.js it runs on), so that a check after an upgrade sees the new release serve. A
// standby is not ready by design: keepalived's check script and a load balancer take
// only a 200 for the active box, and the body says `standby` rather than a fault.
function readyAnswer(readiness: Readiness, sides: readonly SideName[]): RawAnswer {
  const checks = sides.flatMap((side) => readiness.checks(side).map((c) => ({ side, ...c })));
  const role = readiness.role?.();
  const withRole = role ? { role } : {};
  const notReady = checks.filter((c) => !c.ok).map((c) => `${c.side}.${c.name}`);
  const build = { ...buildInfo(), node: process.versions.node };
  if (notReady.length === 0) return json(200, { ready: true, ...withRole, ...build, checks });
  const code = role === 'standby' ? 'STANDBY' : 'NOT_READY';
  const message = role === 'standby' ? `standby: this box takes no device traffic until it becomes active (${notReady.join(', ')})` : `not ready: ${notReady.join(', ')}`;
  return json(httpStatus('management', code), { ready: false, ...withRole, error: code, message, notReady, ...build, checks });
}
