// The pair's gauges (ferry_ha_role, ferry_ha_epoch), for the active box's registry and
// the standby's alike; a single box registers neither.
import type { InnerMetrics } from './registry.js';

export function haGauges(metrics: InnerMetrics, role: 'active' | 'standby', epoch?: string): void {
  metrics.read('ferry_ha_role', () => [
    { labels: { role: 'active' }, value: role === 'active' ? 1 : 0 },
    { labels: { role: 'standby' }, value: role === 'standby' ? 1 : 0 },
  ]);
  if (epoch !== undefined) metrics.read('ferry_ha_epoch', () => [{ labels: {}, value: Number(epoch) }]);
}
