// Prints the path of the cached Node.js binary a release carries for ARCH (x64 by
// default), downloading it first if needed: CI runs the test suite a second time on it.
//   node dist/scripts/release/fetch-node.js [x64|arm64]
import { parseArch } from './arch.js';
import { bundledNode } from './node-runtime.js';

try {
  process.stdout.write(`${bundledNode(parseArch(process.argv[2] ?? 'x64')).binary}\n`);
} catch (err) {
  process.stderr.write(`fetch-node: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
