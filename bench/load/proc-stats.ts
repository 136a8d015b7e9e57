import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** CPU and memory of a process tree from /proc (Linux only). */

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

interface StatLine {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: the fields after it start after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return { pid, ppid: Number(f[1]), comm, ticks };
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** The roots and all their live descendants. */
export function processTree(roots: readonly number[]): StatLine[] {
  const all: StatLine[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s !== null) all.push(s);
  }
  const wanted = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of all) {
      if (!wanted.has(s.pid) && wanted.has(s.ppid)) {
        wanted.add(s.pid);
        grew = true;
      }
    }
  }
  return all.filter((s) => wanted.has(s.pid));
}

export interface TreeSample {
  /** CPU seconds of every live process in the tree, including its reaped children. */
  readonly cpuSeconds: number;
  /** Sum of VmRSS, bytes. */
  readonly rssBytes: number;
  readonly processes: readonly string[];
}

/**
 * Counting cutime/cstime of each live process adds the CPU of children that
 * have exited and been reaped; those are no longer in the tree, so nothing is
 * counted twice.
 */
export function sampleTree(roots: readonly number[]): TreeSample {
  const tree = processTree(roots);
  let ticks = 0;
  let rss = 0;
  for (const s of tree) {
    ticks += s.ticks;
    rss += rssKiB(s.pid) * 1024;
  }
  return {
    cpuSeconds: ticks / ticksPerSecond(),
    rssBytes: rss,
    processes: tree.map((s) => `${s.comm}[${s.pid}]`),
  };
}
