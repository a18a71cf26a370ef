// CPU pinning for the bench (Linux taskset): the broker under test (the echo broker, or
// Ferry's inner side) on one core, everything else (Ferry's outer side, the payment
// simulator, the load generator and billing desks) on the others. Without it, four busy
// processes on two cores preempt one another, and the tail latency mostly measures the
// scheduler. Every thread of a process is moved (taskset -a); threads it starts later
// (libuv's pool, LevelDB's compaction) inherit the mask.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export type PinRole = 'broker' | 'rest';

export interface CpuPlan {
  broker: string; // a taskset cpu list
  rest: string;
}

// With fewer than two CPUs, or no taskset, there is nothing to pin: undefined.
export function cpuPlan(): CpuPlan | undefined {
  const n = os.availableParallelism();
  if (n < 2 || spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status !== 0) return undefined;
  return { broker: String(n - 1), rest: n === 2 ? '0' : `0-${n - 2}` };
}

export function pin(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${String(r.stderr).trim()}`);
}
