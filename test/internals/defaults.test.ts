// The one place each default comes from: the management API's address as its clients
// reach it, and the rule and data directories a command uses when not told.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { managementConfig, managementUrl, reachableHost } from '../../runtime/rules/management-address.js';
import { CHECKOUT_PATHS, defaultPaths } from '../../runtime/common/default-paths.js';
import { loadGatewayConfig } from '../../runtime/rules/load.js';
import { PROJECT_DIR } from '../helpers/gateway.js';

test('a listener on every address is reached through loopback, an IPv6 one in brackets', () => {
  assert.is(managementUrl({ host: '0.0.0.0', port: 8470 }), 'http://127.0.0.1:8470');
  assert.is(managementUrl({ host: '::', port: 8470 }), 'http://[::1]:8470');
  assert.is(managementUrl({ host: '10.20.0.5', port: 9000 }), 'http://10.20.0.5:9000');
  assert.is(reachableHost('fd00::5'), '[fd00::5]');
  assert.is(reachableHost('localhost'), 'localhost');
});

test("the clients apply ferry start's --management-host and --management-port to gateway.yaml, with the same checks", () => {
  const gateway = loadGatewayConfig(path.join(PROJECT_DIR, 'rules'));
  assert.is(managementUrl(managementConfig(gateway, {})!), `http://127.0.0.1:${gateway.management!.port}`);
  assert.is(managementUrl(managementConfig(gateway, { 'management-port': '9471' })!), 'http://127.0.0.1:9471');
  assert.is(managementUrl(managementConfig(gateway, { 'management-host': '::', 'management-port': '9471' })!), 'http://[::1]:9471');
  assert.throws(() => managementConfig(gateway, { 'management-port': 'eighty' }), /--management-port must be a port number/);
});

test('the default directories: the environment first, then the installed file, then ./rules and ./data', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-defaults-'));
  try {
    const file = path.join(dir, 'paths.json');
    assert.equal(defaultPaths({}, file), CHECKOUT_PATHS, 'no file: a source checkout');
    fs.writeFileSync(file, JSON.stringify({ rules: '/etc/ferry', data: '/var/lib/ferry' }));
    assert.equal(defaultPaths({}, file), { rules: '/etc/ferry', data: '/var/lib/ferry' });
    assert.equal(defaultPaths({ FERRY_RULES: '/srv/rules' }, file), { rules: '/srv/rules', data: '/var/lib/ferry' });
    fs.writeFileSync(file, '{"rules": "relative/path", "data": 7');
    assert.equal(defaultPaths({}, file), CHECKOUT_PATHS, 'a damaged file is ignored');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
