// Which processes to track, read from <procRoot>: every pid listed, a process's name
// (comm), command line and start time, and a process's descendants.
import { readFileSync, readdirSync } from 'node:fs';

/** The pids <procRoot> lists now. */
export function listPids(procRoot: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    if (/^\d+$/.test(name)) pids.push(Number(name));
  }
  return pids;
}

/** The text of a file, or undefined when it cannot be read (gone, hidden, not ours). */
function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export interface ProcessInfo {
  /** comm: at most 15 characters, as top shows it. */
  name: string;
  /** cmdline with NULs as spaces; '' for a kernel thread or an unreadable one. */
  command: string;
}

/** A process's name and command line ({ name: '' } when it is gone or hidden). */
export function processInfo(procRoot: string, pid: number): ProcessInfo {
  const name = readOrUndefined(`${procRoot}/${pid}/comm`)?.replace(/\n$/, '') ?? '';
  const command = readOrUndefined(`${procRoot}/${pid}/cmdline`)?.replace(/\0+$/, '').replaceAll('\0', ' ') ?? '';
  return { name, command };
}

/**
 * `pid` and every descendant, from the children lists of each thread
 * (<procRoot>/<pid>/task/<tid>/children, CONFIG_PROC_CHILDREN), else from every
 * process's parent pid.
 */
export function descendants(procRoot: string, pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    const children = childrenOf(procRoot, found[i]);
    if (children === undefined) return descendantsByParent(procRoot, pid);
    for (const child of children) if (!found.includes(child)) found.push(child);
  }
  return found;
}

function childrenOf(procRoot: string, pid: number): number[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const tid of tids) {
    const text = readOrUndefined(`${procRoot}/${pid}/task/${tid}/children`);
    if (text === undefined) return undefined;
    for (const child of text.split(' ')) if (child.trim()) children.push(Number(child));
  }
  return children;
}

function descendantsByParent(procRoot: string, pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const p of listPids(procRoot)) {
    const stat = readOrUndefined(`${procRoot}/${p}/stat`);
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields) parentOf.set(p, Number(fields[1]));
  }
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const [child, parent] of parentOf) if (parent === found[i] && !found.includes(child)) found.push(child);
  }
  return found;
}
