// What a benchmark ran on, written beside its figures: results from different machines
// are not comparable, and the load average says whether the machine was quiet.
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpus: number;
  model: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  platform: string;
  loadAverage: number[];
  openFilesLimit: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, model: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version, kernel: os.release(), platform: `${os.platform()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    openFilesLimit: openFilesLimit(),
  };
}

export function formatMachine(m: Machine): string {
  return `${m.cpus} x ${m.model}, ${m.memoryGiB} GiB, node ${m.node}, Linux ${m.kernel}, load ${m.loadAverage.join(' ')}, open files ${m.openFilesLimit}`;
}

// The soft limit on open files of this process (Linux); children inherit it.
function openFilesLimit(): string {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return line?.split(/\s{2,}/)[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

// Peak and current resident memory of a process, from /proc/<pid>/status (Linux), in MiB.
export function memoryOf(pid: number): { peakRssMiB: number; rssMiB: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(/^(\w+):\s+(\d+) kB/m.exec(status.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? NaN);
    return { peakRssMiB: Math.round(kib('VmHWM') / 102.4) / 10, rssMiB: Math.round(kib('VmRSS') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

// CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat.
const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux
export function cpuTimeMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

// Read and write system calls a process has made so far, from /proc/<pid>/io (Linux):
// what batching socket writes saves shows here whatever the machine's load. With `tid`,
// one thread's: a Node process's main thread makes its socket writes, while LevelDB's
// log and compaction writes and libuv's wake-ups (eventfd) come from other threads.
export function syscallsOf(pid: number | 'self', tid?: number): { reads: number; writes: number } | undefined {
  try {
    const io = fs.readFileSync(tid === undefined ? `/proc/${pid}/io` : `/proc/${pid}/task/${tid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return undefined;
  }
}
