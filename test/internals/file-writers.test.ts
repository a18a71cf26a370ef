// Every rule file Ferry writes is replaced atomically and keeps its owner, group and mode:
// that is runtime/common/replace-file.ts, and nothing else under runtime/ writes a file
// the gateway reads. The test CA (tests and demos only) writes its scratch files in a
// private temp directory and leaves the certificates to openssl.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const RUNTIME = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../runtime');
const WRITES = /\b(writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream|renameSync|rename|copyFileSync|copyFile|writeSync)\s*\(/;
const ALLOWED = new Set(['common/replace-file.ts', 'tls/test-ca.ts']);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

test('only replaceFile writes files under runtime/ (and the test CA its scratch files)', () => {
  const writers = sources(RUNTIME)
    .filter((file) => fs.readFileSync(file, 'utf8').split('\n').some((line) => !line.trim().startsWith('//') && WRITES.test(line)))
    .map((file) => path.relative(RUNTIME, file).split(path.sep).join('/'));
  assert.equal(writers.filter((f) => !ALLOWED.has(f)), [], 'a new writer: use replaceFile (runtime/common/replace-file.ts)');
  assert.ok(writers.includes('common/replace-file.ts'));
});

test('the rule-file editor writes through replaceFile', () => {
  const editor = fs.readFileSync(path.join(RUNTIME, 'rules/devices-file.ts'), 'utf8');
  assert.match(editor, /import \{ replaceFile \} from '\.\.\/common\/replace-file\.js'/);
});

test.run();
