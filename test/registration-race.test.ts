// Invariant 3 under concurrency: 200 kiosks race through the real broker for the 20
// slots of one session. Exactly 20 are booked, and no snapshot a kiosk saw ever showed
// a negative remaining count.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { registrationRules, tomorrow } from './helpers/registration.js';
import { KioskSim } from '../sim/devices/kiosk.js';
import { isErrorReply } from '../devices/client.js';
import type { SlotsSnapshot } from '../devices/protocol.js';
import type { SlotPool } from '../runtime/inner/registration/pools.js';

const KIOSKS = 200;
const SLOTS = 20;

let gw: TestGateway;
let rulesDir: string;
let kiosks: KioskSim[] = [];

test.before(async () => {
  const made = registrationRules({ kiosks: KIOSKS, capacity: { morning: SLOTS, afternoon: 0 } });
  rulesDir = made.rulesDir;
  gw = await startTestGateway({ rulesDir });
  kiosks = await Promise.all(made.kiosks.map(async (k) => new KioskSim(await gw.device(k.id, k.password))));
});
test.after(async () => {
  await gw.close();
  fs.rmSync(rulesDir, { recursive: true, force: true });
});

test(`${KIOSKS} kiosks racing for ${SLOTS} slots book exactly ${SLOTS}, and no snapshot shows a negative count`, async () => {
  const date = tomorrow();
  const seen: SlotsSnapshot[] = [];
  const watcher = kiosks[0]!.client;
  watcher.on('topic', (_topic: string, payload: Buffer) => seen.push(JSON.parse(payload.toString()) as SlotsSnapshot));
  await watcher.subscribe(`slots/TST/${date}`);

  const started = process.hrtime.bigint();
  const outcomes = await Promise.all(kiosks.map((k, i) => k.registerAndPay(
    { dept: 'TST', session: 'morning', date, patientId: `P-RACE-${i}` }, 'code',
    { bookedWaitMs: 30_000, request: { timeoutMs: 60_000 } },
  )));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const booked = outcomes.filter((o) => o.booked);
  const soldOut = outcomes.filter((o) => isErrorReply(o.held) && (o.held.body as { code: string }).code === 'SOLD_OUT');
  console.log(`  race: ${KIOSKS} kiosks, ${booked.length} bookings in ${seconds.toFixed(2)} s = ${(booked.length / seconds).toFixed(1)} bookings/s (${(KIOSKS / seconds).toFixed(0)} registration requests/s)`);
  assert.is(booked.length, SLOTS, 'exactly the capacity is booked');
  assert.is(soldOut.length, KIOSKS - SLOTS, 'everyone else is told SOLD_OUT');
  assert.equal(booked.map((o) => o.booked!.body.visitNo).sort((a, b) => a - b), Array.from({ length: SLOTS }, (_, i) => i + 1), 'visit numbers 1..N, each once');

  await gw.inner.store.durable();
  const pool = await gw.inner.store.get<SlotPool>(`pool!TST!${date}!morning`);
  assert.equal([pool!.booked, pool!.held, pool!.capacity], [SLOTS, 0, SLOTS]);
  await gw.inner.slots.settled();
  assert.ok(seen.length > 0, 'snapshots were published');
  for (const snap of seen) for (const s of snap.sessions) assert.ok(s.remaining >= 0 && s.booked + s.held <= s.capacity, `snapshot ${snap.seq}: ${JSON.stringify(s)}`);
});

test.run();
