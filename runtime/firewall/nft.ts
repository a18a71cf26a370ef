// Running `nft` (and reading forwarding switches) on the host, or inside a named network
// namespace through `ip netns exec`. Every call has a time limit and an output limit:
// nft talks to the kernel only, so a call that takes longer is stuck, not slow.
import { spawn } from 'node:child_process';

export const NFT_TIMEOUT_MS = 15_000;
// A listing of our table is a few kilobytes; a whole host ruleset can be large.
export const NFT_OUTPUT_BYTES_MAX = 16 * 1024 * 1024;

export interface Target {
  netns?: string; // a name under /run/netns, as `ip netns` knows it
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function inTarget(target: Target, argv: string[]): string[] {
  return target.netns ? ['ip', 'netns', 'exec', target.netns, ...argv] : argv;
}

export function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let bytes = 0;
    const take = (chunk: Buffer, into: 'out' | 'err') => {
      bytes += chunk.length;
      if (bytes > NFT_OUTPUT_BYTES_MAX) {
        child.kill('SIGKILL');
        return;
      }
      if (into === 'out') stdout += chunk.toString();
      else stderr += chunk.toString();
    };
    const timer = setTimeout(() => {
      stderr += `\n${argv[0]} took longer than ${NFT_TIMEOUT_MS} ms and was stopped`;
      child.kill('SIGKILL');
    }, NFT_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => take(c, 'out'));
    child.stderr.on('data', (c: Buffer) => take(c, 'err'));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `cannot run ${argv[0]}: ${err.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a child that exits early closes its stdin
    child.stdin.end(input ?? '');
  });
}

// Loads a ruleset file in one transaction (`nft -f -`).
export async function loadRuleset(target: Target, text: string): Promise<RunResult> {
  return run(inTarget(target, ['nft', '-f', '-']), text);
}

// `nft -j list table inet ferry`: the parsed JSON, or null when the table is absent.
export async function listTable(target: Target, family: string, name: string): Promise<{ json: unknown } | { missing: true } | { error: string }> {
  const r = await run(inTarget(target, ['nft', '-j', 'list', 'table', family, name]));
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return { missing: true };
    return { error: firstLines(r.stderr) };
  }
  return parseJson(r.stdout);
}

// What nft makes of a ruleset, without touching any ruleset that matters: the file is
// loaded into a throwaway network namespace (gone when the command ends) and listed
// back. Comparing two listings by nft itself is exact, where comparing our text with
// nft's normalised output would not be.
export async function canonicalListing(text: string, family: string, name: string): Promise<{ json: unknown } | { error: string }> {
  const script = `nft -f - && nft -j list table ${family} ${name}`;
  const r = await run(['unshare', '--net', 'sh', '-c', script], text);
  if (r.code !== 0) return { error: `cannot load the plan into a scratch namespace: ${firstLines(r.stderr)}` };
  return parseJson(r.stdout);
}

// Forwarding switches of the target's network namespace (/proc/sys/net is per namespace,
// so inside another one it must be read by a process in it).
export async function readForwarding(target: Target): Promise<{ ipv4: string; ipv6: string } | { error: string }> {
  const r = await run(inTarget(target, ['cat', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding']));
  const values = r.stdout.split('\n').filter((l) => l !== '');
  if (r.code !== 0 || values.length !== 2) return { error: firstLines(r.stderr) || 'cannot read the forwarding switches' };
  return { ipv4: values[0]!.trim(), ipv6: values[1]!.trim() };
}

function parseJson(text: string): { json: unknown } | { error: string } {
  try {
    return { json: JSON.parse(text) as unknown };
  } catch {
    return { error: 'nft printed something that is not JSON' };
  }
}

export function firstLines(text: string, max = 8): string {
  return text.trim().split('\n').slice(0, max).join('\n');
}
