// Retention reads only the records that can be old enough to go: for records whose ids
// carry their UTC day, the scan stops at the first id of a day that starts after the
// cutoff, so a daily run over months of kept records reads about one day of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import pino from 'pino';
import { Store } from '../../runtime/inner/store/store.js';
import { HospitalDay } from '../../runtime/common/hospital-day.js';
import { Retention } from '../../runtime/inner/retention/retention.js';
import { dispatchKey, type DispatchRecord } from '../../runtime/inner/dispatch/records.js';
import { idempotencyKey } from '../../runtime/inner/gap/handler.js';
import { regKey } from '../../runtime/inner/registration/registrations.js';
import { RETENTION_PAGE_RECORDS } from '../../runtime/inner/retention/retention.js';
import { tempDir } from '../helpers/gateway.js';
import { openTestStore, removeStoreArtefacts } from '../helpers/store-backend.js';

const log = pino({ level: 'silent' });

function dispatch(id: string, ackedAt: string): DispatchRecord {
  return { dispatchId: id, dept: 'CARD', seq: 1, priority: 'normal', routedBy: 'triage', symptoms: 'x', kiosk: 'kiosk-01', requestId: id, status: 'acked', createdAt: ackedAt, ackedAt };
}

test('a record made on a day after the cutoff is not read, whatever its fields say; one made before goes', async () => {
  const dir = tempDir('retention-scan');
  const store = await openTestStore(dir, log);
  try {
    await store.transact((tx) => {
      tx.put(dispatchKey('D20260101-test-000001'), dispatch('D20260101-test-000001', '2026-01-01T03:00:00.000Z'));
      // Impossible for a real record (acknowledged before it was made): it shows that
      // the scan stopped before this day.
      tx.put(dispatchKey('D20260601-test-000001'), dispatch('D20260601-test-000001', '2026-01-01T03:00:00.000Z'));
    });
    const config = { paymentsDays: 400, billsDays: 400, registrationsDays: 400, dispatchesDays: 90, idempotencyDays: 30, auditDays: 180 };
    const report = await new Retention({ store, config, day: new HospitalDay('Asia/Shanghai'), log, now: () => new Date('2026-05-01T04:00:00.000Z') }).run();
    assert.is(report.pruned.dispatches, 1);
    assert.is(await store.get(dispatchKey('D20260101-test-000001')), undefined);
    assert.ok(await store.get(dispatchKey('D20260601-test-000001')));
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    removeStoreArtefacts(dir);
  }
});

test('idempotency records, which are not keyed by time, all go when old and all stay when young, over many pages of young ones', async () => {
  const dir = tempDir('retention-scan');
  const store = await openTestStore(dir, log);
  try {
    const total = RETENTION_PAGE_RECORDS * 4 + 17;
    // Every 97th record is old: most pages have none, some have one, the last page is short.
    const isOld = (i: number) => i % 97 === 5 || i === total - 1;
    await store.transact((tx) => {
      for (let i = 0; i < total; i++) {
        tx.put(idempotencyKey('kiosk-01', `req-${String(i).padStart(5, '0')}`), { hash: 'h', type: 'payment.request', at: isOld(i) ? '2026-03-01T03:00:00.000Z' : '2026-04-30T03:00:00.000Z' });
      }
    });
    const config = { paymentsDays: 400, billsDays: 400, registrationsDays: 400, dispatchesDays: 90, idempotencyDays: 30, auditDays: 180 };
    const report = await new Retention({ store, config, day: new HospitalDay('Asia/Shanghai'), log, now: () => new Date('2026-05-01T04:00:00.000Z') }).run();
    const old = Array.from({ length: total }, (_, i) => i).filter(isOld);
    assert.is(report.pruned.idempotency, old.length);
    for (let i = 0; i < total; i++) {
      const kept = (await store.get(idempotencyKey('kiosk-01', `req-${String(i).padStart(5, '0')}`))) !== undefined;
      if (kept === isOld(i)) assert.unreachable(`record ${i} (${isOld(i) ? 'old' : 'young'}) was ${kept ? 'kept' : 'deleted'}`);
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    removeStoreArtefacts(dir);
  }
});

test('registrations over many pages go or stay by their own visit day, however many share one', async () => {
  const dir = tempDir('retention-scan');
  const store = await openTestStore(dir, log);
  try {
    const total = RETENTION_PAGE_RECORDS * 3 + 7;
    // Closed long ago; every third booked for a visit after the cutoff, which keeps it.
    // Three visit days only, so that the run's remembered ranges are asked again and again;
    // 2026-03-31 is the last day before the cutoff (2026-04-01 in Shanghai).
    const visit = (i: number) => (i % 3 === 0 ? '2026-05-10' : i % 2 === 0 ? '2026-03-02' : '2026-03-31');
    const id = (i: number) => `R20260301-test-${String(i).padStart(5, '0')}`;
    await store.transact((tx) => {
      for (let i = 0; i < total; i++) {
        tx.put(regKey(id(i)), { registrationId: id(i), dept: 'INT', date: visit(i), session: 'morning', patientId: 'P-42', fee: 1000, status: 'expired', createdAt: '2026-03-01T01:00:00.000Z', updatedAt: '2026-03-01T01:00:00.000Z' });
      }
    });
    const config = { paymentsDays: 400, billsDays: 400, registrationsDays: 30, dispatchesDays: 90, idempotencyDays: 30, auditDays: 180 };
    const report = await new Retention({ store, config, day: new HospitalDay('Asia/Shanghai'), log, now: () => new Date('2026-05-01T04:00:00.000Z') }).run();
    const kept = (i: number) => visit(i) === '2026-05-10';
    assert.is(report.pruned.registrations, Array.from({ length: total }, (_, i) => i).filter((i) => !kept(i)).length);
    for (let i = 0; i < total; i++) {
      const there = (await store.get(regKey(id(i)))) !== undefined;
      if (there !== kept(i)) assert.unreachable(`registration ${i} (visit ${visit(i)}) was ${there ? 'kept' : 'deleted'}`);
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    removeStoreArtefacts(dir);
  }
});

test.run();
