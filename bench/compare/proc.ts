// A process's own accounting, read from the kernel outside the process, so measuring an
// exporter costs the exporter nothing: CPU time from /proc/<pid>/stat (utime + stime) and
// peak resident memory from /proc/<pid>/status (VmHWM).
import { readFileSync } from 'node:fs';

// USER_HZ, the unit of utime and stime: 100 on every architecture Linux runs Node on.
const CLOCK_TICKS_PER_S = 100;

/** User plus system CPU seconds the process has used so far (10 ms resolution). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** The process's peak resident set size so far, in bytes. */
export function peakRssBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no VmHWM`);
  return Number(match[1]) * 1024;
}
