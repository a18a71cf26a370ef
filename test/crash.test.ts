// Invariants 1 and 2 across crashes: kill -9 of either process in the middle of a burst
// of payments, restart it, and every accepted payment ends final, none charged twice,
// and the audit chain still verifies.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { DeviceClient } from '../devices/client.js';
import { demoPassword } from '../sim/demo-devices.js';
import { verifyAudit } from '../runtime/inner/store/store.js';
import { copyRules, LOAD_RATE, sampleItems, sampleTotal } from './helpers/gateway.js';
import { processGatewayWithSim } from './helpers/processes.js';

const BURST = 30;

async function burstWithCrash(victim: 'inner' | 'outer'): Promise<void> {
  const rulesDir = copyRules({ rate: LOAD_RATE });
  const { sim, gw, dataDir } = await processGatewayWithSim({ rulesDir, dataName: `crash-${victim}` });
  const clients: DeviceClient[] = [];
  try {
    await gw.startInner();
    await gw.startOuter();
    const connect = async (id: string) => {
      const c = await DeviceClient.connect({ url: gw.mqttUrl, id, password: demoPassword(id)! });
      clients.push(c);
      return c;
    };
    const desk = await connect('billing-01');
    const kiosks = [await connect('kiosk-01'), await connect('kiosk-02')];
    const billIds: string[] = [];
    for (let i = 0; i < BURST; i++) {
      const r = await desk.request('bill.create', { patientId: `P-C${i}`, reference: `CR-${victim}-${i}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
      assert.is(r.type, 'bill.created');
      billIds.push((r.body as { billId: string }).billId);
    }

    const requests = billIds.map((billId, i) => kiosks[i % 2]!.request('payment.request',
      { billId, amount: sampleTotal, currency: 'CNY', method: i % 5 === 0 ? 'qr' : 'code', ...(i % 5 === 0 ? {} : { authCode: `5${String(i).padStart(5, '0')}` }) },
      { id: `burst-${victim}-${i}`, timeoutMs: 60_000, resendMs: 1000 }));
    await new Promise((r) => setTimeout(r, 40));
    await gw.kill(victim, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await (victim === 'inner' ? gw.startInner() : gw.startOuter());
    const answers = await Promise.all(requests);

    // Each accepted payment ends final: ask again with the same request id until it is.
    const finals = await Promise.all(answers.map(async (answer, i) => {
      assert.is(answer.type, 'payment.result', JSON.stringify(answer.body));
      const deadline = Date.now() + 30_000;
      let body = answer.body as { status: string; orderId: string };
      while (body.status === 'pending' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        const again = await kiosks[i % 2]!.request('payment.request',
          { billId: billIds[i], amount: sampleTotal, currency: 'CNY', method: i % 5 === 0 ? 'qr' : 'code', ...(i % 5 === 0 ? {} : { authCode: `5${String(i).padStart(5, '0')}` }) },
          { id: `burst-${victim}-${i}`, timeoutMs: 30_000 });
        body = again.body as { status: string; orderId: string };
      }
      return body;
    }));
    for (const f of finals) {
      assert.ok(f.status === 'succeeded' || f.status === 'failed', `order ${f.orderId} ended ${f.status}; at the payment server: ${JSON.stringify(sim.payments().find((p) => p.orderId === f.orderId))}, ${sim.requestsFor(f.orderId)} requests`);
      assert.ok(sim.chargesFor(f.orderId) <= 1, `order ${f.orderId} charged at most once`);
      if (f.status === 'succeeded') assert.is(sim.chargesFor(f.orderId), 1, `order ${f.orderId} charged`);
    }
    assert.is(new Set(finals.map((f) => f.orderId)).size, BURST, 'one order per bill');
    assert.is(sim.totalCharges(), finals.filter((f) => f.status === 'succeeded').length);

    await Promise.all(clients.map((c) => c.close()));
    clients.length = 0;
    await gw.stop();
    const verdict = await verifyAudit(dataDir);
    assert.ok(verdict.ok, JSON.stringify(verdict));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await gw.stop();
    await sim.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
}

test('kill -9 of the inner process during a burst of payments loses none and charges none twice', async () => {
  await burstWithCrash('inner');
});

test('kill -9 of the outer process during a burst of payments loses none and charges none twice', async () => {
  await burstWithCrash('outer');
});

// One crash, then one payment: how soon after the killed side is running again does a
// kiosk get its answer? Only the channel's reconnect stands between the two, and on a
// Unix socket that must be well under a second.
async function paymentAfterOneCrash(victim: 'inner' | 'outer'): Promise<void> {
  const rulesDir = copyRules({ rate: LOAD_RATE });
  const { sim, gw, dataDir } = await processGatewayWithSim({ rulesDir, dataName: `one-crash-${victim}` });
  const clients: DeviceClient[] = [];
  const connect = async (id: string) => {
    const c = await DeviceClient.connect({ url: gw.mqttUrl, id, password: demoPassword(id)! });
    clients.push(c);
    return c;
  };
  try {
    await gw.startInner();
    await gw.startOuter();
    const desk = await connect('billing-01');
    const bill = await desk.request('bill.create', { patientId: 'P-ONE', reference: `ONE-${victim}`, items: sampleItems, total: sampleTotal, currency: 'CNY' });
    const billId = (bill.body as { billId: string }).billId;
    await desk.close();
    clients.length = 0;

    const killedAt = Date.now();
    await gw.kill(victim, 'SIGKILL');
    await (victim === 'inner' ? gw.startInner() : gw.startOuter());
    const startedAt = Date.now();
    const kiosk = await connect('kiosk-01');
    let body: { status: string } = { status: 'none' };
    while (body.status !== 'succeeded' && Date.now() - startedAt < 10_000) {
      const answer = await kiosk.request('payment.request', { billId, amount: sampleTotal, currency: 'CNY', method: 'code', authCode: '512345' }, { id: `one-crash-${victim}`, timeoutMs: 10_000 });
      body = answer.body as { status: string };
      if (body.status !== 'succeeded') await new Promise((r) => setTimeout(r, 25));
    }
    const answeredAt = Date.now();
    console.log(`  kill -9 of the ${victim} side: restarted in ${startedAt - killedAt} ms, payment succeeded ${answeredAt - startedAt} ms after that`);
    assert.is(body.status, 'succeeded');
    assert.ok(answeredAt - startedAt <= 2_000, `payment answered ${answeredAt - startedAt} ms after the ${victim} side was running again`);
    assert.is(sim.totalCharges(), 1);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await gw.stop();
    await sim.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rulesDir, { recursive: true, force: true });
  }
}

test('after one kill -9 of the outer process, a payment succeeds within a second or two of its restart', async () => {
  await paymentAfterOneCrash('outer');
});

test('after one kill -9 of the inner process, a payment succeeds within a second or two of its restart', async () => {
  await paymentAfterOneCrash('inner');
});

test.run();
