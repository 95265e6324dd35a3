import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Memory a process holds as its own, in bytes: anonymous and shared memory resident (RssAnon + RssShmem of
 * /proc/<pid>/status), not mapped files — the Chromium binary's pages are shared by every renderer and counted once
 * by the kernel, not per page. Null if the process is gone or /proc is absent (not Linux).
 */
export function residentBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const bytes = (kb('RssAnon') + kb('RssShmem')) * 1024;
    return Number.isNaN(bytes) ? null : bytes;
  } catch {
    return null;
  }
}

/** A process's start time (clock ticks after boot, /proc/<pid>/stat field 22): tells a reused pid apart. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/**
 * Lower every thread of a process to `nice` (Linux priorities are per thread, and threads the process starts later
 * inherit their creator's). Threads that are gone, or that we may not change, are skipped: returns how many were set.
 */
export function lowerPriority(pid: number, nice: number): number {
  let set = 0;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), nice);
      set++;
    } catch {
      // the thread ended meanwhile, or the process belongs to a user we may not renice
    }
  }
  return set;
}
