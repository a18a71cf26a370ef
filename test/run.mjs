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
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SUITE_TIMEOUT_MS = 300_000;
// The longest suites start first, so that the workers finish together (measured: each
// takes 8 to 25 s; most others take under 5 s).
const SLOW_FIRST = ['failover', 'netns', 'hospital', 'crash', 'install', 'console-hour', 'query', 'registration', 'firewall', 'devices-admin', 'devices-lifecycle', 'logs', 'registration-crash', 'outbox', 'cli', 'systemd', 'metrics', 'console', 'bench'];

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

function runSuite(file) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
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

const started = process.hrtime.bigint();
const queue = suitesUnder(dir);
const results = [];
async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const result = await runSuite(file);
    process.stdout.write(`${result.output.trimEnd()}\n  (${path.relative(dir, file)}: ${result.seconds.toFixed(1)} s)\n\n`);
    results.push(result);
  }
}
await Promise.all(Array.from({ length: jobs }, worker));

const sum = (key) => results.reduce((n, r) => n + r[key], 0);
const failedSuites = results.filter((r) => r.failed > 0).map((r) => path.relative(dir, r.file));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(`${results.length} suites ran in ${elapsed.toFixed(1)} s, ${jobs} at a time\n`);
if (failedSuites.length > 0) process.stdout.write(`failed: ${failedSuites.join(', ')}\n`);
const skipped = sum('skipped');
process.stdout.write(`\n${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failedSuites.length > 0 || results.length === 0 ? 1 : 0;
