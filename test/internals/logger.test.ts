// Logs never carry credentials or what identifies a patient (runtime/common/logger.ts).
import { Writable } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../runtime/common/logger.js';

function capture(): { lines: Array<Record<string, any>>; stream: Writable } {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

test('password, secret, authCode and patientId are redacted at the top level', () => {
  const { lines, stream } = capture();
  createLogger('t', 'info', stream).info({ password: 'hunter2', secret: 's3cret', authCode: '134567890123', patientId: 'P-1001', device: 'kiosk-01' }, 'x');
  const line = lines[0]!;
  assert.is(line.password, '[redacted]');
  assert.is(line.secret, '[redacted]');
  assert.is(line.authCode, '[redacted]');
  assert.is(line.patientId, '[redacted]');
  assert.is(line.device, 'kiosk-01', 'other fields are kept');
});

test('the same fields are redacted in nested objects', () => {
  const { lines, stream } = capture();
  createLogger('t', 'info', stream).info({
    device: { id: 'kiosk-01', password: 'hunter2' },
    payment: { secret: 's3cret', authCode: '134567890123' },
    request: { body: { patientId: 'P-1001', authCode: '134567890123', billId: 'B-1' } },
  }, 'nested');
  const line = lines[0]!;
  assert.is(line.device.password, '[redacted]');
  assert.is(line.device.id, 'kiosk-01');
  assert.is(line.payment.secret, '[redacted]');
  assert.is(line.payment.authCode, '[redacted]');
  assert.is(line.request.body.patientId, '[redacted]');
  assert.is(line.request.body.authCode, '[redacted]');
  assert.is(line.request.body.billId, 'B-1');
});

test('all four fields are redacted two levels down', () => {
  const { lines, stream } = capture();
  createLogger('t', 'info', stream).info({ a: { b: { password: 'P', secret: 'S', authCode: 'A', patientId: 'I', ok: 1 } } }, 'deeper');
  assert.equal(lines[0]!.a.b, { password: '[redacted]', secret: '[redacted]', authCode: '[redacted]', patientId: '[redacted]', ok: 1 });
});

test('no secret value appears anywhere in the written line', () => {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _e, done) { chunks.push(chunk.toString()); done(); } });
  createLogger('t', 'info', stream).warn({ a: { password: 'pw-VALUE' }, b: { c: { patientId: 'PID-VALUE' } }, secret: 'SECRET-VALUE' }, 'deep');
  const text = chunks.join('');
  for (const value of ['pw-VALUE', 'PID-VALUE', 'SECRET-VALUE']) assert.not.ok(text.includes(value), `${value} is not logged`);
});

test('the logger writes to the given stream, named and levelled', () => {
  const { lines, stream } = capture();
  const log = createLogger('inner', 'warn', stream);
  log.info('not written');
  log.warn({ n: 1 }, 'written');
  assert.is(lines.length, 1);
  assert.is(lines[0]!.msg, 'written');
  assert.is(lines[0]!.name, 'inner');
  assert.is(lines[0]!.proc, 'inner');
});

test.run();
