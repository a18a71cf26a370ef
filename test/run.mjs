// Runs every compiled uvu suite (dist/test/**/*.test.js) and ends with the plain
// "N passed, N failed" line that CI reads, uvu's own totals being printed as a table.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// uvu exports no bin entry to resolve: the CLI file sits in its package folder.
const uvu = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const child = spawn(process.execPath, [uvu, 'dist/test', '\\.test\\.js$', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  if (Number.isFinite(total) && Number.isFinite(passed)) {
    process.stdout.write(`\n${passed} passed, ${total - passed - (skipped || 0)} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
  process.exitCode = code ?? (signal ? 1 : 0);
});
