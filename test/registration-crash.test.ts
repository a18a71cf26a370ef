// Invariant 3 across a crash: kill -9 of the inner process during a burst of
// registrations, then restart. For every pool, bookings plus live holds stay within
// capacity and match the registrations; every paid registration is booked or refunded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { KioskSim } from '../sim/devices/kiosk.js';
import { Store } from '../runtime/inner/store/store.js';
import { verifyAudit } from '../runtime/inner/store/store.js';
import type { SlotPool } from '../runtime/inner/registration/pools.js';
import type { Registration } from '../runtime/inner/registration/registrations.js';
import type { Order } from '../runtime/inner/payments/order.js';
import { quietLog } from './helpers/gateway.js';
import { processGatewayWithSim } from './helpers/processes.js';
import { registrationRules, tomorrow } from './helpers/registration.js';

const KIOSKS = 40;
const SLOTS = 15;

test('kill -9 of the inner process during a registration burst keeps every pool within capacity and every paid registration booked or refunded', async () => {
  const { rulesDir, kiosks: logins } = registrationRules({ kiosks: KIOSKS, capacity: { morning: SLOTS, afternoon: 0 } });
  const { sim, gw, dataDir } = await processGatewayWithSim({ rulesDir, dataName: 'reg-crash' });
  const kiosks: KioskSim[] = [];
  try {
    await gw.startInner();
    await gw.startOuter();
    for (const k of logins) kiosks.push(await KioskSim.connect({ url: gw.mqttUrl, id: k.id, password: k.password }));
    const date = tomorrow();
    const burst = Promise.allSettled(kiosks.map((k, i) => k.registerAndPay(
      { dept: 'TST', session: 'morning', date, patientId: `P-CR-${i}` }, i % 4 === 0 ? 'qr' : 'code',
      { bookedWaitMs: 20_000, waitFinalMs: 30_000, recheckMs: 500, request: { timeoutMs: 30_000, resendMs: 1000 } },
    )));
    await new Promise((r) => setTimeout(r, 60));
    await gw.kill('inner', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await gw.startInner();
    await burst;
    // Let the journal drain: open orders are resent on reconnect.
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    await Promise.all(kiosks.map((k) => k.close()));
    await gw.stop();
    await sim.stop();
  }

  const store = await Store.open(dataDir, quietLog);
  try {
    const regs = (await store.list<Registration>('reg!')).map(([, r]) => r);
    const pools = (await store.list<SlotPool>('pool!')).map(([, p]) => p);
    for (const pool of pools) {
      const mine = regs.filter((r) => r.dept === pool.dept && r.date === pool.date && r.session === pool.session);
      assert.is(pool.booked, mine.filter((r) => r.status === 'booked').length, 'pool bookings match the registrations');
      assert.is(pool.held, mine.filter((r) => r.status === 'held' || r.status === 'paying').length, 'pool holds match the registrations');
      assert.ok(pool.booked + pool.window + pool.held <= pool.capacity, `pool ${pool.session} within capacity: ${JSON.stringify(pool)}`);
    }
    const orders = (await store.list<Order>('order!')).map(([, o]) => o);
    for (const order of orders.filter((o) => o.registrationId && o.status === 'succeeded')) {
      const r = regs.find((x) => x.registrationId === order.registrationId)!;
      assert.ok(['booked', 'refunding', 'refunded'].includes(r.status), `paid registration ${r.registrationId} is ${r.status}`);
      assert.is(sim.chargesFor(order.orderId), 1, 'charged once');
    }
    assert.ok(regs.filter((r) => r.status === 'booked').length > 0, 'the burst booked something');
  } finally {
    await store.close();
  }
  const verdict = await verifyAudit(dataDir);
  assert.ok(verdict.ok, JSON.stringify(verdict));
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

test.run();
