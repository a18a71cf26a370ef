// When the inner side starts, every slot pool from today on is published again, however
// many past pools the store has kept (pools are kept for good): they are read a page at
// a time, skipping each department's past days.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import pino from 'pino';
import { Store } from '../../runtime/inner/store/store.js';
import { HospitalDay, addDays } from '../../runtime/common/hospital-day.js';
import { SlotsPublisher } from '../../runtime/inner/registration/slots-publisher.js';
import { poolKey, type SlotPool } from '../../runtime/inner/registration/pools.js';
import type { DepartmentsRule } from '../../runtime/rules/types.js';
import { tempDir } from '../helpers/gateway.js';

const log = pino({ level: 'silent' });
const TODAY = '2026-11-26';
const NOW_MS = Date.parse('2026-11-26T02:00:00.000Z'); // 10:00 in Beijing

const rules: DepartmentsRule = {
  holdTtlSeconds: 300, paymentGraceSeconds: 600, bookAheadDays: 7,
  sessions: [{ name: 'morning', startMinute: 480, endMinute: 720 }, { name: 'afternoon', startMinute: 810, endMinute: 1050 }],
  departments: new Map([['A', { code: 'A', name: 'A', fees: { regular: 1500 }, capacity: { morning: 9, afternoon: 9 }, gatewayNumbers: { morning: 1, afternoon: 1 } }]]),
};

test('every pool from today on is published, among a thousand past ones of several departments', async () => {
  const dir = tempDir('slots');
  const store = await Store.open(dir, log);
  try {
    const pool = (dept: string, date: string, session: string): SlotPool => ({ dept, date, session, capacity: 9, booked: 1, window: 0, held: 0, closed: false, version: 0, visitSeq: 1, overCapacity: false });
    // Departments whose names begin one another: A, AB, B (and a department no longer in the rules).
    for (const dept of ['A', 'AB', 'B']) {
      for (let d = -400; d <= 2; d++) {
        await store.transact((tx) => {
          for (const session of ['morning', 'afternoon']) tx.put(poolKey(dept, addDays(TODAY, d), session), pool(dept, addDays(TODAY, d), session));
        });
      }
    }
    const published: string[] = [];
    const slots = new SlotsPublisher(store, () => rules, async (topic) => void published.push(topic), log, new HospitalDay('Asia/Shanghai'));
    await slots.republishAll(NOW_MS);
    await slots.settled();
    const expected = ['A', 'AB', 'B'].flatMap((dept) => [0, 1, 2].map((d) => `${dept}|${addDays(TODAY, d)}`));
    assert.equal(published.map((t) => t.split('/').slice(-2).join('|')).sort(), expected.sort());
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
