// Runs the compiled uvu suites, each file in its own Node process, a few at a time, and
// ends with the plain "N passed, N failed" line that CI reads.
//   node test/run.mjs [dir [pattern]]
// With no dir and pattern: every suite, dist/test/**/*.test.js (`npm test`); the pattern
// is a regex on the path below dir (`npm run test:fast` picks the socket-free ones).
//
// Why one process per file, two at a time: most suites spend their time waiting on real
// sockets, child processes and timers, so two of them share two cores well, and a suite
// that hangs (uvu has no timeout of its own, and waits on any open socket) is killed at
// SUITE_TIMEOUT_MS and counted as failed instead of stalling the run. A suite's output
// is printed whole when it ends, so two suites never interleave. FERRY_TEST_JOBS=1 runs
// them one after another.
//
// Then a second pass runs the suites of POSTGRES_SUITES (those the pattern matches) with
// the store on PostgreSQL: one throwaway cluster (test/helpers/postgres.ts) for the pass,
// FERRY_TEST_STORE=postgres and FERRY_TEST_PG_URL tell the helpers to give each store a
// fresh database of its own. Where PostgreSQL cannot run, the pass is skipped and says
// why. FERRY_TEST_PASSES=leveldb runs the first pass only, =postgres the second only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SUITE_TIMEOUT_MS = 300_000;
// The longest suites start first, so that the workers finish together (measured: each
// takes 8 to 25 s; most others take under 5 s).
const SLOW_FIRST = ['failover', 'release', 'netns', 'hospital', 'crash', 'install', 'console-hour', 'query', 'registration', 'firewall', 'devices-admin', 'devices-lifecycle', 'logs', 'registration-crash', 'outbox', 'cli', 'systemd', 'metrics', 'console', 'bench', 'backup'];

// The suites that exercise the store, payments, registration, dispatch, retention and the
// audit chain: they run on both backends.
const POSTGRES_SUITES = ['store', 'store-format-engines', 'audit', 'retention', 'bill-payment', 'registration', 'dispatch', 'outbox', 'hospital', 'internals/retention-scan', 'internals/query-indexes',
  'registration-race', 'reconcile', 'refund-retry', 'gap', 'device-queries', 'query'];

const [dir = 'dist/test', pattern = '\\.test\\.js$'] = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.FERRY_TEST_JOBS) || Math.min(2, os.availableParallelism()));
const match = new RegExp(pattern);

function suitesUnder(root) {
  const found = [];
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (match.test(path.relative(root, full).split(path.sep).join('/'))) found.push(full);
    }
  };
  walk(root);
  const rank = (file) => {
    const i = SLOW_FIRST.indexOf(path.basename(file).replace(/\.test\.js$/, ''));
    return i === -1 ? SLOW_FIRST.length : i;
  };
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function runSuite(file, env) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => {
      output += `\n${file}: still running after ${SUITE_TIMEOUT_MS / 1000} s; killed\n`;
      child.kill('SIGKILL');
    }, SUITE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
      const number = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
      const total = number('Total');
      const passed = number('Passed');
      const skipped = number('Skipped') || 0;
      const counted = Number.isFinite(total) && Number.isFinite(passed);
      // A suite that died or never printed its totals counts as one failure at least.
      const failed = counted ? total - passed - skipped : 1;
      const ok = code === 0 && signal === null && counted && failed === 0;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ file, output, passed: counted ? passed : 0, failed: ok ? 0 : Math.max(1, failed), skipped, seconds });
    });
  });
}

async function runPass(files, env, label) {
  const started = process.hrtime.bigint();
  const queue = [...files];
  const results = [];
  async function worker() {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const result = await runSuite(file, env);
      process.stdout.write(`${result.output.trimEnd()}\n  (${label}${path.relative(dir, file)}: ${result.seconds.toFixed(1)} s)\n\n`);
      results.push(result);
    }
  }
  await Promise.all(Array.from({ length: jobs }, worker));
  const sum = (key) => results.reduce((n, r) => n + r[key], 0);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    suites: results.length, passed: sum('passed'), failed: sum('failed'), skipped: sum('skipped'), seconds: elapsed,
    failedSuites: results.filter((r) => r.failed > 0).map((r) => `${label}${path.relative(dir, r.file)}`),
  };
}

// The PostgreSQL pass, or why it did not run.
async function postgresPass(files) {
  if (files.length === 0) return undefined;
  if (process.env.FERRY_TEST_PASSES === 'leveldb') return { skippedBecause: 'FERRY_TEST_PASSES=leveldb' };
  const helper = path.resolve(dir, 'helpers/postgres.js');
  if (!fs.existsSync(helper)) return { skippedBecause: `${helper} is not built` };
  const { postgresUnavailable, startPostgres } = await import(pathToFileURL(helper).href);
  const why = postgresUnavailable();
  if (why) return { skippedBecause: why };
  const server = await startPostgres();
  try {
    return await runPass(files, { ...process.env, FERRY_TEST_STORE: 'postgres', FERRY_TEST_PG_URL: server.url() }, 'postgres: ');
  } finally {
    await server.stop();
  }
}

const started = process.hrtime.bigint();
const files = suitesUnder(dir);
const onlyPostgres = process.env.FERRY_TEST_PASSES === 'postgres';
const first = onlyPostgres
  ? { suites: 0, passed: 0, failed: 0, skipped: 0, seconds: 0, failedSuites: [] }
  : await runPass(files, { ...process.env, FERRY_TEST_STORE: 'leveldb' }, '');
if (!onlyPostgres) process.stdout.write(`${first.suites} suites ran in ${first.seconds.toFixed(1)} s, ${jobs} at a time\n\n`);
const onPostgres = files.filter((f) => POSTGRES_SUITES.includes(path.relative(dir, f).split(path.sep).join('/').replace(/\.test\.js$/, '')));
const second = await postgresPass(onPostgres);

const line = (p) => `${p.passed} passed, ${p.failed} failed${p.skipped ? `, ${p.skipped} skipped` : ''}`;
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
const failedSuites = [...first.failedSuites, ...(second?.failedSuites ?? [])];
process.stdout.write(onlyPostgres ? 'leveldb: skipped (FERRY_TEST_PASSES=postgres)\n' : `leveldb: ${first.suites} suites, ${line(first)} in ${first.seconds.toFixed(1)} s\n`);
if (second?.skippedBecause) process.stdout.write(`postgres: skipped (${second.skippedBecause})\n`);
else if (second) process.stdout.write(`postgres: ${second.suites} suites, ${line(second)} in ${second.seconds.toFixed(1)} s\n`);
process.stdout.write(`all in ${elapsed.toFixed(1)} s, ${jobs} at a time\n`);
if (failedSuites.length > 0) process.stdout.write(`failed: ${failedSuites.join(', ')}\n`);
const both = second && !second.skippedBecause ? [first, second] : [first];
const total = (key) => both.reduce((n, p) => n + p[key], 0);
const skipped = total('skipped');
process.stdout.write(`\n${total('passed')} passed, ${total('failed')} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
const ran = first.suites + (second && !second.skippedBecause ? second.suites : 0);
process.exitCode = failedSuites.length > 0 || ran === 0 ? 1 : 0;
