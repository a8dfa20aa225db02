/**
 * CPU time and RSS of a process tree from /proc (Linux). CPU is the sum over the tree's threads
 * of `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on the CPU); where schedstat is missing it
 * falls back to utime+stime from `/proc/<pid>/stat` (clock ticks, 10 ms at USER_HZ=100).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_NS = 1e9 / 100; // USER_HZ is 100 on Linux

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/<pid>/stat after the `(comm)`; index 0 is field 3 (state). */
function statFields(pid: number): string[] | null {
  const s = readText(`/proc/${pid}/stat`);
  if (s === null) return null;
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}

/** The process and all its descendants (pid first). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU nanoseconds used so far by one process (all its threads). */
export function processCpuNs(pid: number): number {
  let total = 0;
  let ok = false;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    const s = readText(`/proc/${pid}/task/${tid}/schedstat`);
    if (s === null) continue;
    const ns = Number(s.split(' ')[0]);
    if (Number.isFinite(ns)) {
      total += ns;
      ok = true;
    }
  }
  if (ok) return total;
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) * TICK_NS : 0;
}

/** CPU nanoseconds used so far by the tree rooted at each pid. */
export function treeCpuNs(pids: readonly number[]): number {
  let total = 0;
  for (const root of pids) for (const p of processTree(root)) total += processCpuNs(p);
  return total;
}

/** Resident set size (VmRSS) in bytes of one process; 0 when gone. */
export function processRssBytes(pid: number): number {
  const s = readText(`/proc/${pid}/status`);
  const m = s === null ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(s);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Sum of VmRSS over the trees (shared pages of a forked worker count twice). */
export function treeRssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const root of pids) for (const p of processTree(root)) total += processRssBytes(p);
  return total;
}
