// The invariants of docs/design.md, checked after a simulated day against the gateway's store
// (opened once the gateway has stopped) and the payment server's own books. Each check
// names what it found wrong, so that a FAIL can be followed up.
import { pino } from 'pino';
import type { PaymentServerSim } from '../payment-server/server.js';
import { Store, verifyAudit, type StoreBackend } from '../../runtime/inner/store/store.js';
import type { Order } from '../../runtime/inner/payments/order.js';
import type { Refund } from '../../runtime/inner/payments/refunds.js';
import type { SlotPool } from '../../runtime/inner/registration/pools.js';
import type { Registration } from '../../runtime/inner/registration/registrations.js';
import type { DispatchRecord } from '../../runtime/inner/dispatch/records.js';
import { idOf, KEYSPACE } from '../../runtime/inner/store/keyspace.js';

export interface Expectations {
  acceptedOrders: Set<string>; // orders a device was told about
  cancelledRegistrations: Set<string>;
  dispatches: Map<string, { dept: string; sentAt: number }>; // accepted patient.info
}

export interface InvariantResult {
  invariant: string;
  ok: boolean;
  checked: number;
  problems: string[];
}

// At most this many problems are listed per invariant; the count says the rest.
const PROBLEMS_LISTED_MAX = 5;

export async function checkInvariants(dataDir: string, sim: PaymentServerSim, expect: Expectations, processedCounts: Map<string, number>, backend?: StoreBackend): Promise<InvariantResult[]> {
  const store = await Store.open(dataDir, pino({ level: 'silent' }), backend ? { backend } : {});
  try {
    const orders = new Map((await store.list<Order>(KEYSPACE.order.prefix)).map(([, o]) => [o.orderId, o]));
    const journal = await store.list(KEYSPACE.journal.prefix);
    const regs = (await store.list<Registration>(KEYSPACE.reg.prefix)).map(([, r]) => r);
    const pools = (await store.list<SlotPool>(KEYSPACE.pool.prefix)).map(([, p]) => p);
    const refunds = (await store.list<Refund>(KEYSPACE.refund.prefix)).map(([, r]) => r);
    const dispatches = new Map((await store.list<DispatchRecord>(KEYSPACE.dispatch.prefix)).map(([, d]) => [d.dispatchId, d]));
    const results = [
      check('1. no payment lost: every accepted payment ended succeeded, failed or refunded', (bad) => {
        for (const [key] of journal) bad(`order ${idOf('journal', key)} still open in the journal`);
        for (const id of expect.acceptedOrders) {
          const o = orders.get(id);
          if (!o) bad(`order ${id} told to a device is not in the store`);
          else if (o.status !== 'succeeded' && o.status !== 'failed') bad(`order ${id} ended ${o.status}`);
        }
        for (const p of sim.payments()) {
          if (p.status === 'succeeded' && orders.get(p.orderId)?.status !== 'succeeded') bad(`order ${p.orderId} was charged but the gateway says ${orders.get(p.orderId)?.status ?? 'nothing'}`);
        }
        return orders.size;
      }),
      check('2. no payment charged twice', (bad) => {
        for (const p of sim.payments()) if (sim.chargesFor(p.orderId) > 1) bad(`order ${p.orderId} charged ${sim.chargesFor(p.orderId)} times`);
        const byOrder = new Map<string, number>();
        for (const r of sim.refunds()) if (r.status === 'succeeded') byOrder.set(r.orderId, (byOrder.get(r.orderId) ?? 0) + r.amount);
        for (const [orderId, refunded] of byOrder) if (refunded > (orders.get(orderId)?.amount ?? 0)) bad(`order ${orderId} refunded ${refunded}, more than paid`);
        return sim.payments().length;
      }),
      check('3. no session overbooked; pools agree with the registrations', (bad) => {
        for (const pool of pools) {
          const name = `${pool.dept}/${pool.date}/${pool.session}`;
          const mine = regs.filter((r) => r.dept === pool.dept && r.date === pool.date && r.session === pool.session);
          if (pool.booked + pool.window + pool.held > pool.capacity) bad(`${name}: ${pool.booked} booked + ${pool.window} at the window + ${pool.held} held > ${pool.capacity}`);
          const booked = mine.filter((r) => r.status === 'booked').length;
          const held = mine.filter((r) => r.status === 'held' || r.status === 'paying').length;
          if (booked !== pool.booked || held !== pool.held) bad(`${name}: pool says ${pool.booked} booked/${pool.held} held, registrations say ${booked}/${held}`);
        }
        return pools.length;
      }),
      check('3. every paid registration is booked or refunded', (bad) => {
        let paid = 0;
        for (const o of orders.values()) {
          if (!o.registrationId || o.status !== 'succeeded') continue;
          paid += 1;
          const r = regs.find((x) => x.registrationId === o.registrationId);
          if (!r || !['booked', 'refunded'].includes(r.status)) bad(`registration ${o.registrationId} paid by ${o.orderId} is ${r?.status ?? 'missing'}`);
        }
        for (const id of expect.cancelledRegistrations) {
          const r = regs.find((x) => x.registrationId === id);
          const made = refunds.filter((f) => f.registrationId === id && f.status !== 'failed').length;
          if (r?.status !== 'refunded' || made !== 1) bad(`cancelled registration ${id} is ${r?.status ?? 'missing'} with ${made} refunds`);
        }
        return paid;
      }),
      check('4. every dispatched message reached its department exactly once', (bad) => {
        for (const [id, e] of expect.dispatches) {
          const d = dispatches.get(id);
          if (!d) bad(`dispatch ${id} is not in the store`);
          else if (d.status !== 'acked') bad(`dispatch ${id} is ${d.status}`);
          else if (d.dept !== e.dept) bad(`dispatch ${id} went to ${d.dept}, the kiosk was told ${e.dept}`);
          const n = processedCounts.get(id) ?? 0;
          if (n !== 1) bad(`dispatch ${id} processed ${n} times by its department's workstations`);
        }
        return expect.dispatches.size;
      }),
    ];
    await store.close();
    const verdict = await verifyAudit(dataDir, backend);
    results.push({
      invariant: '6. the audit log is intact (hash chain verified)', ok: verdict.ok, checked: verdict.entries,
      problems: verdict.ok ? [] : [`broken at entry ${verdict.firstBroken?.seq}: ${verdict.firstBroken?.reason}`],
    });
    return results;
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}

function check(invariant: string, run: (bad: (problem: string) => void) => number): InvariantResult {
  const problems: string[] = [];
  let total = 0;
  const checked = run((p) => {
    total += 1;
    if (problems.length < PROBLEMS_LISTED_MAX) problems.push(p);
  });
  if (total > problems.length) problems.push(`… and ${total - problems.length} more`);
  return { invariant, ok: total === 0, checked, problems };
}
