// What the inner side of a standby box answers (docs/ha.md): its management listener
// only, saying `standby` wherever it is asked, so that keepalived and load balancers
// send it nothing and an operator sees why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startStandby, type RunningStandby } from '../runtime/inner/ha/standby.js';
import { quietLog } from './helpers/gateway.js';

const TOKENS = { token: 'read-token-standby', adminToken: 'admin-token-standby' };
let standby: RunningStandby;
let why = 'another box holds the leader lock (box-a:1234, epoch 7)';

test.before(async () => {
  standby = await startStandby({ management: { host: '127.0.0.1', port: 0, ...TOKENS }, log: quietLog, state: () => why });
});
test.after(async () => {
  await standby.close();
});

async function get(route: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${standby.url}${route}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

test('/readyz answers 503 STANDBY with role standby, naming who is active; /readyz/inner and /readyz/outer say standby too', async () => {
  const all = await get('/readyz');
  assert.is(all.status, 503);
  assert.is(all.body.error, 'STANDBY');
  assert.is(all.body.role, 'standby');
  assert.equal(all.body.notReady, ['inner.standby', 'outer.standby']);
  assert.match(all.body.message, /^standby: /);
  const inner = await get('/readyz/inner');
  assert.is(inner.status, 503);
  assert.match(inner.body.checks[0].detail, /box-a:1234, epoch 7/);
  why = 'the database cannot be used: connect ECONNREFUSED';
  assert.match((await get('/readyz/inner')).body.checks[0].detail, /cannot be used: connect ECONNREFUSED/);
  assert.is((await get('/readyz/outer')).body.error, 'STANDBY');
});

test('/healthz answers 200: the process is alive, only not active', async () => {
  const health = await get('/healthz');
  assert.is(health.status, 200);
  assert.equal(health.body, { alive: true });
});

test('/metrics needs the read token and shows ferry_ha_role standby 1, active 0, epoch 0, and none of the gateway\'s own series', async () => {
  assert.is((await get('/metrics')).status, 401);
  const metrics = await get('/metrics', TOKENS.token);
  assert.is(metrics.status, 200);
  assert.match(metrics.body, /ferry_ha_role\{role="standby"\} 1/);
  assert.match(metrics.body, /ferry_ha_role\{role="active"\} 0/);
  assert.match(metrics.body, /ferry_ha_epoch 0\n/);
  // A zero ferry_outer_up or ferry_orders_open here would read as a fault of this box.
  const names = new Set([...(metrics.body as string).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
  assert.equal([...names].sort(), ['ferry_ha_epoch', 'ferry_ha_role']);
});

test('every other route of the management API answers 503 STANDBY, whatever the token', async () => {
  for (const route of ['/v1/query/payments', '/v1/audit/verify', '/console', '/']) {
    const answer = await get(route, TOKENS.adminToken);
    assert.is(answer.status, 503, route);
    assert.is(answer.body.error, 'STANDBY', route);
  }
});

test.run();
