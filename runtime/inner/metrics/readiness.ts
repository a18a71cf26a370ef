// The inner side's readiness checks (GET /readyz/inner): what must hold for it to take
// device traffic and carry payments across.
import type { RunningBroker } from '../broker/broker.js';
import type { Store } from '../store/store.js';
import type { Check } from './outer-report.js';

export interface InnerCheckParts {
  store: Store;
  broker: () => RunningBroker | undefined;
  channel: () => boolean; // the outer side is connected
  rules: () => { messages: number; devices: number; lastReload: 'ok' | 'refused' | undefined };
  term?: { epoch: string; holder: string }; // the active box of a pair
}

export function innerChecks(p: InnerCheckParts): Check[] {
  const broker = p.broker();
  const listening = broker !== undefined && !(broker.aedes as unknown as { closed?: boolean }).closed;
  const rules = p.rules();
  const channel = p.channel();
  const role = p.term ? [{ name: 'role', ok: true, detail: `active (epoch ${p.term.epoch}, ${p.term.holder})` }] : [];
  return [
    ...role,
    { name: 'store', ok: p.store.writable, detail: p.store.writable ? 'open' : 'closed or failed: writes are refused' },
    { name: 'broker', ok: listening, detail: listening ? `MQTT listening on port ${broker.port}` : 'MQTT broker not listening' },
    { name: 'channel', ok: channel, detail: channel ? 'the outer side is connected' : 'the outer side is not connected: payments wait in the journal' },
    {
      name: 'rules', ok: rules.messages > 0,
      detail: `${rules.messages} message types, ${rules.devices} devices${rules.lastReload === 'refused' ? '; the last reload was refused, the running rules stay' : ''}`,
    },
  ];
}
