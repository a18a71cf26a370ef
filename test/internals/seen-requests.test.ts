// The filter of seen request ids in front of the gap's idempotency lookup: it may say
// "maybe" for a new id, never "new" for one the store holds, before or after a restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BloomFilter, SEEN_REQUEST_LIMITS, SeenRequests } from '../../runtime/inner/gap/seen-requests.js';
import { idempotencyKey } from '../../runtime/inner/gap/handler.js';
import { silentLog, storeFixture } from '../helpers/store.js';

const fixture = storeFixture(test, 'seen-requests');
const keyOf = (i: number) => idempotencyKey(`kiosk-${String(i % 40).padStart(2, '0')}`, `req-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(16)}`);

test('a Bloom filter says "maybe" for every key it was given, and rarely for one it was not', () => {
  const filter = new BloomFilter(SEEN_REQUEST_LIMITS.bytes, SEEN_REQUEST_LIMITS.hashes);
  const n = 200_000;
  for (let i = 0; i < n; i++) filter.add(keyOf(i));
  for (let i = 0; i < n; i++) if (!filter.mightHave(keyOf(i))) assert.unreachable(`a false "new" for ${keyOf(i)}`);
  let falseMaybes = 0;
  for (let i = n; i < 2 * n; i++) if (filter.mightHave(keyOf(i))) falseMaybes += 1;
  assert.ok(falseMaybes < n / 1000, `${falseMaybes} false "maybe"s in ${n}`);
});

test('every request id the store holds is "maybe", whether written before the filter was built, meanwhile, after, or before a restart', async () => {
  const dir = await fixture.tempDir();
  let store = await fixture.openStore(dir);
  const held: string[] = [];
  const write = async (from: number, to: number) => {
    await store.transact((tx) => {
      for (let i = from; i < to; i++) {
        tx.put(keyOf(i), { hash: 'h', type: 'payment.request', at: 'now' });
        held.push(keyOf(i));
      }
    });
  };
  await write(0, 500);
  await store.durable();
  const building = write(500, 600); // committed while the filter reads the disk
  let seen = await SeenRequests.open(store, silentLog);
  await building;
  await write(600, 700);
  for (const key of held) assert.ok(seen.mightHave(key), `before the restart: ${key}`);
  await store.close();
  store = await fixture.openStore(dir);
  seen = await SeenRequests.open(store, silentLog);
  for (const key of held) assert.ok(seen.mightHave(key), `after the restart: ${key}`);
  let newOnes = 0;
  for (let i = 10_000; i < 11_000; i++) if (!seen.mightHave(keyOf(i))) newOnes += 1;
  assert.ok(newOnes > 990, 'ids never seen are mostly answered "new"');
});

test('past its key limit the filter is rebuilt from the store and still misses nothing', async () => {
  const store = await fixture.openStore(await fixture.tempDir());
  const limits = Object.freeze({ ...SEEN_REQUEST_LIMITS, bytes: 4096, keys: 300 });
  const seen = await SeenRequests.open(store, silentLog, limits);
  const held: string[] = [];
  for (let round = 0; round < 10; round++) {
    await store.transact((tx) => {
      for (let i = round * 100; i < (round + 1) * 100; i++) {
        tx.put(keyOf(i), { hash: 'h' });
        held.push(keyOf(i));
      }
    });
    for (const key of held) assert.ok(seen.mightHave(key), `round ${round}: ${key}`);
  }
  await seen.settled();
  for (const key of held) assert.ok(seen.mightHave(key), `after the rebuild: ${key}`);
});

test.run();
