// The broker's access rules (runtime/inner/broker/acl.ts): a device publishes only to
// its own up topics and reads only its own down topic and what its role names.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allowedFilters, mayPublish, maySubscribe } from '../../runtime/inner/broker/acl.js';
import type { DeviceRule, RoleRule } from '../../runtime/rules/types.js';

const kiosk: DeviceRule = { id: 'kiosk-01', role: 'kiosk', disabled: false };
const workstation: DeviceRule = { id: 'ws-01', role: 'workstation', dept: 'cardiology', disabled: false };
const noDeptWorkstation: DeviceRule = { id: 'ws-09', role: 'workstation', disabled: false };
const kioskRole: RoleRule = { name: 'kiosk', subscribe: ['slots/#'] };
const workstationRole: RoleRule = { name: 'workstation', subscribe: ['dept/{dept}/inbox'] };

test('a device may publish to its own up topic of any message type', () => {
  assert.ok(mayPublish(kiosk, 'dev/kiosk-01/up/bill.query'));
  assert.ok(mayPublish(kiosk, 'dev/kiosk-01/up/payment.request'));
});

test('a device may not publish with wildcards in the topic', () => {
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-01/up/+'));
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-01/up/#'));
  assert.not.ok(mayPublish(kiosk, 'dev/+/up/bill.query'));
});

test("a device may not publish to another device's up topic", () => {
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-02/up/bill.query'));
  assert.not.ok(mayPublish(kiosk, 'dev/ws-01/up/dispatch.ack'));
});

test('a device may not publish to a down topic, a shared topic or a malformed up topic', () => {
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-01/down'));
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-02/down'));
  assert.not.ok(mayPublish(kiosk, 'slots/cardiology/2026-11-26'));
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-01/up/'));
  assert.not.ok(mayPublish(kiosk, 'dev/kiosk-01/up/bill.query/extra'));
  assert.not.ok(mayPublish(kiosk, '/dev/kiosk-01/up/bill.query'));
  assert.not.ok(mayPublish(kiosk, '$SYS/broker/load'));
});

test("allowed filters are the device's own down topic plus its role's filters", () => {
  assert.equal(allowedFilters(kiosk, kioskRole), ['dev/kiosk-01/down', 'slots/#']);
  assert.equal(allowedFilters(kiosk, undefined), ['dev/kiosk-01/down']);
});

test('{dept} in a role filter becomes the device department, {id} the device id', () => {
  assert.equal(allowedFilters(workstation, workstationRole), ['dev/ws-01/down', 'dept/cardiology/inbox']);
  assert.equal(allowedFilters(workstation, { name: 'workstation', subscribe: ['notes/{id}/#', 'dept/{dept}/{id}'] }),
    ['dev/ws-01/down', 'notes/ws-01/#', 'dept/cardiology/ws-01']);
});

test('a {dept} filter is dropped for a device that has no department', () => {
  assert.equal(allowedFilters(noDeptWorkstation, workstationRole), ['dev/ws-09/down']);
});

const kioskAllowed = allowedFilters(kiosk, kioskRole);
const wsAllowed = allowedFilters(workstation, workstationRole);

test('a device may subscribe to exactly an allowed filter', () => {
  assert.ok(maySubscribe('dev/kiosk-01/down', kioskAllowed));
  assert.ok(maySubscribe('slots/#', kioskAllowed));
  assert.ok(maySubscribe('dept/cardiology/inbox', wsAllowed));
});

test('a subscription that narrows an allowed # filter is allowed', () => {
  assert.ok(maySubscribe('slots/cardiology/#', kioskAllowed));
  assert.ok(maySubscribe('slots/cardiology/2026-11-26', kioskAllowed));
  assert.ok(maySubscribe('slots/+/2026-11-26', kioskAllowed));
  assert.ok(maySubscribe('slots/+', kioskAllowed));
  assert.ok(maySubscribe('slots/+/+', kioskAllowed));
});

test('a + level in an allowed filter admits a name or a + but not a #', () => {
  const allowed = ['slots/+/today'];
  assert.ok(maySubscribe('slots/cardiology/today', allowed));
  assert.ok(maySubscribe('slots/+/today', allowed));
  assert.not.ok(maySubscribe('slots/#', allowed));
  assert.not.ok(maySubscribe('slots/cardiology/#', allowed));
  assert.not.ok(maySubscribe('slots/cardiology/tomorrow', allowed));
  assert.not.ok(maySubscribe('slots/cardiology', allowed));
});

test('a subscription to # or to +/# is refused', () => {
  assert.not.ok(maySubscribe('#', kioskAllowed));
  assert.not.ok(maySubscribe('+/#', kioskAllowed));
  assert.not.ok(maySubscribe('+', kioskAllowed));
});

test("a subscription to every device's down topic or to another device's is refused", () => {
  assert.not.ok(maySubscribe('dev/+/down', kioskAllowed));
  assert.not.ok(maySubscribe('dev/#', kioskAllowed));
  assert.not.ok(maySubscribe('dev/kiosk-02/down', kioskAllowed));
  assert.not.ok(maySubscribe('dev/kiosk-01/#', kioskAllowed));
  assert.not.ok(maySubscribe('dev/kiosk-01/down/#', kioskAllowed));
  assert.not.ok(maySubscribe('dev/kiosk-01/up/bill.query', kioskAllowed));
});

test('a subscription to broker topics is refused', () => {
  assert.not.ok(maySubscribe('$SYS/#', kioskAllowed));
  assert.not.ok(maySubscribe('$SYS/broker/clients', kioskAllowed));
});

test("a workstation may not read another department's inbox or widen its own", () => {
  assert.not.ok(maySubscribe('dept/surgery/inbox', wsAllowed));
  assert.not.ok(maySubscribe('dept/+/inbox', wsAllowed));
  assert.not.ok(maySubscribe('dept/cardiology/#', wsAllowed));
  assert.not.ok(maySubscribe('slots/#', wsAllowed));
});

test('nothing may be subscribed when nothing is allowed', () => {
  assert.not.ok(maySubscribe('dev/kiosk-01/down', []));
  assert.not.ok(maySubscribe('', kioskAllowed));
});

test.run();
