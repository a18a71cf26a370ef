// Writes dist/build-info.json: the commit this build came from, for `ferry --version`
// and each side's first log line. Outside a git checkout (a release tarball) the commit
// is "unknown"; a build never fails for want of git.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim() || 'unknown';
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  if (dirty) commit += '-dirty';
} catch { /* no git, or not a checkout */ }
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/build-info.json', `${JSON.stringify({ commit })}\n`);
