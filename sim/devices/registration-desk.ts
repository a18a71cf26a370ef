// A registration desk: staff register patients for today's sessions, take the fee and
// cancel bookings. On the wire it does what a kiosk does for registrations (it also
// may pay bills), under its own role, so the simulator is the kiosk's.
export { KioskSim as RegistrationDeskSim } from './kiosk.js';
