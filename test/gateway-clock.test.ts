// A gateway runs on the clock its composition roots are given: what its gap says to a
// device is stamped with that clock's time, not the machine's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../runtime/common/clock.js';
import { startTestGateway, sampleItems, sampleTotal } from './helpers/gateway.js';

test("a device's answers carry the gateway clock's time", async () => {
  const at = Date.UTC(2031, 4, 6, 7, 8, 9);
  const clock = new ManualClock(at);
  const gw = await startTestGateway({ clock });
  try {
    const desk = await gw.device('billing-01');
    const created = await desk.request('bill.create', { patientId: 'P-CLOCK', reference: 'CLOCK-1', items: sampleItems, total: sampleTotal, currency: 'CNY' });
    assert.is(created.type, 'bill.created', JSON.stringify(created.body));
    assert.is(created.ts, new Date(at).toISOString());
    const refused = await desk.request('bill.status', { billId: 'B-NOT-THERE' });
    assert.is(refused.ts, new Date(at).toISOString(), 'a refusal too');
  } finally {
    await gw.close();
  }
});

test.run();
