// npm run release: the release artifacts, for each architecture, into release/:
//   ferry_<version>_<amd64|arm64>.deb and ferry-<version>-linux-<x64|arm64>.tar.gz
// Needs the registry only for the first download of the Node.js package (cached in
// .cache/release); node_modules must be installed (npm ci) and dist/ built.
//   node dist/scripts/release/main.js [--arch x64,arm64] [--out DIR] [--version V]
//        [--cache DIR] [--formats deb,tar]
// --version builds the release under another version than package.json's (the upgrade
// test builds an older one).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ARCHES, parseArch } from './arch.js';
import { releaseInfo, stageApp } from './app.js';
import { buildDeb } from './deb.js';
import { bundledNode, DEFAULT_CACHE, PROJECT_DIR } from './node-runtime.js';
import { buildTarball } from './tarball.js';
import { checkArtifact } from './check.js';

export interface BuildOptions {
  arches: Array<keyof typeof ARCHES>;
  outDir: string;
  version?: string;
  cacheDir?: string;
  formats?: Array<'deb' | 'tar'>;
  date?: Date;
}

export interface Artifact {
  file: string;
  bytes: number;
}

export function buildRelease(o: BuildOptions): Artifact[] {
  fs.mkdirSync(o.outDir, { recursive: true });
  const formats = o.formats ?? ['deb', 'tar'];
  const out: Artifact[] = [];
  for (const arch of o.arches) {
    const node = bundledNode(arch, o.cacheDir ?? DEFAULT_CACHE);
    const info = releaseInfo(PROJECT_DIR, arch, node, o.version);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-release-${arch}-`));
    try {
      const app = path.join(work, 'app');
      stageApp(PROJECT_DIR, app, info, node);
      checkArtifact(app, arch);
      const files = [
        ...(formats.includes('deb') ? [buildDeb({ projectDir: PROJECT_DIR, app, work, outDir: o.outDir, info, date: o.date ?? new Date() })] : []),
        ...(formats.includes('tar') ? [buildTarball({ projectDir: PROJECT_DIR, app, work, outDir: o.outDir, info })] : []),
      ];
      for (const file of files) out.push({ file, bytes: fs.statSync(file).size });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return out;
}

function cli(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string', default: 'x64,arm64' },
      out: { type: 'string', default: path.join(PROJECT_DIR, 'release') },
      version: { type: 'string' },
      cache: { type: 'string' },
      formats: { type: 'string', default: 'deb,tar' },
    },
  });
  const formats = values.formats.split(',').map((f) => {
    if (f !== 'deb' && f !== 'tar') throw new Error(`--formats: "${f}" is neither deb nor tar`);
    return f;
  });
  const started = process.hrtime.bigint();
  const artifacts = buildRelease({
    arches: values.arch.split(',').map(parseArch), outDir: path.resolve(values.out), formats,
    ...(values.version ? { version: values.version } : {}), ...(values.cache ? { cacheDir: path.resolve(values.cache) } : {}),
  });
  for (const a of artifacts) process.stdout.write(`${path.relative(process.cwd(), a.file)}  ${(a.bytes / 1024 / 1024).toFixed(1)} MiB\n`);
  process.stdout.write(`built in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s\n`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  try {
    process.exitCode = cli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`release: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
