// The example devices of rules/devices.yaml and their demo passwords, so that
// `npm start` and the simulators work out of the box. These passwords are public:
// install.sh never installs the example devices as enabled devices.
import type { Role } from '../runtime/rules/types.js';

export interface DemoDevice { id: string; role: Role; dept?: string; password: string }

export const DEMO_DEVICES: readonly DemoDevice[] = [
  { id: 'kiosk-01', role: 'kiosk', password: 'demo-kiosk-01-secret' },
  { id: 'kiosk-02', role: 'kiosk', password: 'demo-kiosk-02-secret' },
  { id: 'desk-01', role: 'registration_desk', password: 'demo-desk-01-secret' },
  { id: 'billing-01', role: 'billing_desk', password: 'demo-billing-01-secret' },
  { id: 'receiver-01', role: 'receiver', password: 'demo-receiver-01-secret' },
  { id: 'ws-int-01', role: 'workstation', dept: 'INT', password: 'demo-ws-int-01-secret' },
  // Added with `ferry devices add`, which generated these passwords.
  { id: 'ws-int-02', role: 'workstation', dept: 'INT', password: 'ys9Boi4WUILdhKF8ueFAP-Jdn-Jm5EML' },
  { id: 'ws-ped-01', role: 'workstation', dept: 'PED', password: 'TlYKoQbzUKVrgy09L60ZlWv52DfDCqEl' },
];

export function demoPassword(id: string): string | undefined {
  return DEMO_DEVICES.find((d) => d.id === id)?.password;
}
