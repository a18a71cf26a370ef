// What the `ferry devices` commands share after devices.yaml is written: telling the
// running gateway to apply it (POST /v1/rules/reload with the admin token, the same reload
// as SIGHUP), and reading its device roster (GET /v1/devices). A gateway that does not
// answer is taken as stopped: the file alone is the change, applied at its next start.
import { ApiError, callApi, connection, NoManagementError, type Connection } from './management-client.js';
import { DEFAULT_PATHS } from '../common/default-paths.js';
import type { DeviceListing } from '../inner/management/devices.js';

// A reload reads a few small files; a management address that drops packets must not
// hold the operator's command for the three minutes a reconciliation may take.
export const RUNNING_GATEWAY_CALL_TIMEOUT_MS = 15_000;

export const APPLY_HELP = `Applied without a restart: after writing devices.yaml the command asks the running
gateway to reload its rules (POST /v1/rules/reload on the management API, with the
admin token; the same reload as SIGHUP or systemctl reload ferry-inner). The reload drops
the live MQTT session of a device that is now disabled, removed or has a new secret.
When the gateway is not running (the API does not answer), the change applies at its
next start.`;

// What every command that edits devices.yaml promises about the file.
export const FILE_EDIT_HELP = `Comments and layout of devices.yaml are kept; the file is replaced atomically, keeping
its owner, group and mode, and only if the whole rule set still passes
\`ferry rules check\`.`;

export const DEVICE_CONNECTION_HELP = `  --rules DIR        rule directory (default ${DEFAULT_PATHS.rules}); its gateway.yaml names the
                     management API and its tokens
  --url URL          the management API (default: gateway.yaml management.host:port)
  --token-file FILE  a file holding the bearer token (preferred: a token on the
                     command line shows in the process list)
  --token TOKEN      the bearer token (default: gateway.yaml management.adminToken
                     for a change, management.token for the list)
  --management-host ADDR, --management-port N
                     as given to \`ferry start\` (they override gateway.yaml there too)`;

export interface ConnectionValues { url?: string; token?: string; 'token-file'?: string; rules?: string; 'management-host'?: string; 'management-port'?: string }

export type Applied =
  | { applied: true; dropped: number }
  | { applied: false; running: false; note: string } // stopped, or no management API to ask
  | { applied: false; running: true; note: string }; // it answered, but refused

export async function applyToRunningGateway(values: ConnectionValues): Promise<Applied> {
  let conn: Connection;
  try {
    conn = connection(values, true);
  } catch (err) {
    // No API to ask: the file is the change. A bad --token-file is the operator's to fix.
    if (err instanceof NoManagementError) return { applied: false, running: false, note: `${err.message}; the change applies when the gateway reloads (systemctl reload ferry-inner) or starts` };
    return { applied: false, running: true, note: `devices.yaml is written, but the running gateway was not asked to apply it: ${(err as Error).message}` };
  }
  try {
    const answer = await callApi(conn, 'POST', '/v1/rules/reload', RUNNING_GATEWAY_CALL_TIMEOUT_MS) as { dropped: number };
    return { applied: true, dropped: answer.dropped };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'UNREACHABLE') {
      return { applied: false, running: false, note: `the gateway is not running (no answer at ${conn.url}); the change applies at its next start` };
    }
    const hint = err instanceof ApiError && err.status === 403 ? ' (the reload needs the admin token: --token-file with management.adminToken)' : '';
    return { applied: false, running: true, note: `devices.yaml is written, but the running gateway did not apply it: ${(err as Error).message}${hint}; run systemctl reload ferry-inner, or restart it` };
  }
}

// One line for the operator, on stderr.
export function describeApplied(a: Applied): string {
  if (a.applied) return `applied to the running gateway${a.dropped > 0 ? `; ${a.dropped} live session${a.dropped === 1 ? '' : 's'} dropped` : ''}`;
  return a.note;
}

export type Roster = { running: true; listing: DeviceListing } | { running: false; why: string };

export async function readRoster(values: ConnectionValues): Promise<Roster> {
  let conn: Connection;
  try {
    conn = connection(values, false);
  } catch (err) {
    return { running: false, why: (err as Error).message };
  }
  try {
    return { running: true, listing: await callApi(conn, 'GET', '/v1/devices', RUNNING_GATEWAY_CALL_TIMEOUT_MS) as DeviceListing };
  } catch (err) {
    if (err instanceof ApiError && err.code === 'UNREACHABLE') return { running: false, why: `the gateway is not running (no answer at ${conn.url})` };
    throw err;
  }
}

// A wrong connection command line, found before anything is written.
export function connectionUsageProblem(values: ConnectionValues): string | null {
  if (values.token !== undefined && values['token-file'] !== undefined) return 'give --token or --token-file, not both';
  if (values.url !== undefined && !/^https?:\/\//.test(values.url)) return `--url must be an http(s) URL, not ${values.url}`;
  return null;
}
