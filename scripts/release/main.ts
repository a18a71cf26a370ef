// npm run release: the release artifacts, for each architecture, into release/:
//   ferry_<version>_<amd64|arm64>.deb and ferry-<version>-linux-<x64|arm64>.tar.gz
// Needs the registry only for the first download of the Node.js package (cached in
// .cache/release); node_modules must be installed (npm ci) and dist/ built.
//   node dist/scripts/release/main.js [--arch x64,arm64] [--out DIR] [--version V]
//        [--cache DIR] [--formats deb,tar]
// --version builds the release under another version than package.json's (the upgrade
// test builds an older one).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ARCHES, parseArch } from './arch.js';
import { releaseInfo, stageApp, type ReleaseInfo } from './app.js';
import { buildDeb } from './deb.js';
import { bundledNode, DEFAULT_CACHE, PROJECT_DIR } from './node-runtime.js';
import { buildTarball } from './tarball.js';
import { checkArtifact } from './check.js';

export interface BuildOptions {
  arches: Array<keyof typeof ARCHES>;
  outDir: string;
  // package.json's version when not given; more than one builds the same tree under each
  // (the upgrade test's older release), staged once.
  versions?: string[];
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
    const infos = (o.versions ?? [undefined]).map((v) => releaseInfo(PROJECT_DIR, arch, node, v));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-release-${arch}-`));
    try {
      const staged = path.join(work, 'staged');
      stageApp(PROJECT_DIR, staged, infos[0]!, node);
      checkArtifact(staged, arch);
      for (const info of infos) {
        const dir = path.join(work, info.version);
        fs.mkdirSync(dir);
        const app = path.join(dir, 'app');
        execFileSync('cp', ['-al', staged, app]);
        relabel(app, info);
        const files = [
          ...(formats.includes('deb') ? [buildDeb({ projectDir: PROJECT_DIR, app, work: dir, outDir: o.outDir, info, date: o.date ?? new Date() })] : []),
          ...(formats.includes('tar') ? [buildTarball({ projectDir: PROJECT_DIR, app, work: dir, outDir: o.outDir, info })] : []),
        ];
        for (const file of files) out.push({ file, bytes: fs.statSync(file).size });
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return out;
}

// The two files that carry the version, replaced (not written through: the tree is
// hard links to the staged one).
function relabel(app: string, info: ReleaseInfo): void {
  for (const [file, update] of [
    ['package.json', (j: Record<string, unknown>) => ({ ...j, version: info.version })],
    ['release.json', () => info],
  ] as const) {
    const full = path.join(app, file);
    const next = update(JSON.parse(fs.readFileSync(full, 'utf8')) as Record<string, unknown>);
    fs.unlinkSync(full);
    fs.writeFileSync(full, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o644 });
  }
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
    ...(values.version ? { versions: [values.version] } : {}), ...(values.cache ? { cacheDir: path.resolve(values.cache) } : {}),
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
