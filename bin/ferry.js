#!/usr/bin/env node
// The `ferry` command. The code is TypeScript compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';
const entry = new URL('../dist/runtime/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('ferry: dist/ is missing; run `npm install` (or `npm run build`) in the project first');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
