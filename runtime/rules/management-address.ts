// Where this host reaches the gateway's management API: the one answer that `ferry
// query`, `ferry audit verify`, `ferry reconcile`, `ferry refunds retry` and any other
// client of the API compute, from the same gateway.yaml and the same overrides
// (--management-host, --management-port) that `ferry start` was given.
import type { GatewayConfig, ManagementConfig } from './types.js';
import { applyOverrides, type Overrides } from './overrides.js';

// A listener on every address (0.0.0.0, ::) is reached through loopback; an IPv6
// address goes in brackets in a URL.
export function reachableHost(listenHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '') return '127.0.0.1';
  if (listenHost === '::' || listenHost === '[::]') return '[::1]';
  return listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost;
}

export function managementUrl(management: Pick<ManagementConfig, 'host' | 'port'>): string {
  return `http://${reachableHost(management.host)}:${management.port}`;
}

// gateway.yaml's management section with the command line's overrides applied, as the
// inner side applies them; null when gateway.yaml has none.
export function managementConfig(gateway: GatewayConfig, values: { 'management-host'?: string; 'management-port'?: string }): ManagementConfig | null {
  const o: Overrides = { rulesDir: '', dataDir: '', values: { 'management-host': values['management-host'], 'management-port': values['management-port'] } };
  return applyOverrides(gateway, o).management;
}
