// Runs the compiled uvu suites and ends with the plain "N passed, N failed" line that CI
// reads, uvu's own totals being printed as a table.
//   node test/run.mjs [dir [pattern]] [uvu options]
// With no dir and pattern: every suite, dist/test/**/*.test.js (`npm test`); the pattern
// is uvu's, a regex on the path below dir (`npm run test:fast` picks the socket-free ones).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// uvu exports no bin entry to resolve: the CLI file sits in its package folder.
const uvu = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const args = process.argv.slice(2);
const positional = [];
while (positional.length < 2 && args.length > 0 && !args[0].startsWith('-')) positional.push(args.shift());
const [dir = 'dist/test', pattern = '\\.test\\.js$'] = positional;
const started = process.hrtime.bigint();
const child = spawn(process.execPath, [uvu, dir, pattern, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('exit', (code, signal) => {
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
  const number = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
  const total = number('Total');
  const passed = number('Passed');
  const skipped = number('Skipped');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (Number.isFinite(total) && Number.isFinite(passed)) {
    process.stdout.write(`\nsuites ran in ${seconds.toFixed(1)} s`);
    process.stdout.write(`\n${passed} passed, ${total - passed - (skipped || 0)} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
  process.exitCode = code ?? (signal ? 1 : 0);
});
