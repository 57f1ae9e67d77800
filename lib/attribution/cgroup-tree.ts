// Where the cgroups' CPU time is, below a cgroup root: which hierarchy to read (cgroup v2's
// cpu.stat usage_usec, or cgroup v1's cpuacct.usage where the machine mounts v1, as
// hybrid systems do with a v2 `unified` subtree beside), and the cgroups to a depth.
import { existsSync, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';

export interface CgroupHierarchy {
  /** The mount read: the v2 mount, or the v1 hierarchy that has cpuacct. */
  mount: string;
  version: 1 | 2;
  /** The file that holds a cgroup's CPU time, relative to its directory. */
  file: 'cpu.stat' | 'cpuacct.usage';
}

/**
 * The hierarchy to read below `root`: `root` itself when it is a cgroup v2 mount or a v1
 * cpuacct hierarchy; else, for /sys/fs/cgroup holding several, v1's cpuacct (cgroup v2's
 * `unified` subtree of a hybrid machine has no CPU controller), else `unified`.
 */
export function findHierarchy(root: string, name: string): CgroupHierarchy {
  const candidates = [root, path.join(root, 'cpu,cpuacct'), path.join(root, 'cpuacct'), path.join(root, 'unified')];
  for (const mount of candidates) {
    if (existsSync(path.join(mount, 'cpuacct.usage'))) return { mount, version: 1, file: 'cpuacct.usage' };
    if (existsSync(path.join(mount, 'cgroup.controllers')) && existsSync(path.join(mount, 'cpu.stat'))) {
      return { mount, version: 2, file: 'cpu.stat' };
    }
  }
  const what = existsSync(root) ? 'is not a cgroup mount: it holds neither cgroup.controllers and cpu.stat (v2) nor cpuacct.usage (v1)' : 'does not exist';
  throw usageError(
    `${root} ${what} (${name}). Point it at /sys/fs/cgroup, or at a cgroup2 mount (\`findmnt -t cgroup2\`); ` +
      'on a cgroup v2 root, cpu.stat needs Linux 5.8 or newer.',
  );
}

/** Every cgroup below the hierarchy's mount, down to `depth` levels, as paths below it ("/system.slice"). */
export function listCgroups(hierarchy: CgroupHierarchy, depth: number): string[] {
  const found: string[] = [];
  const walk = (relative: string, level: number) => {
    if (level > depth) return;
    let entries: Dirent[];
    try {
      // The entry types come with the names (cgroupfs gives them): no stat per file.
      entries = readdirSync(path.join(hierarchy.mount, relative), { withFileTypes: true });
    } catch {
      return; // removed while walking
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const child = `${relative}/${entry.name}`;
      found.push(child);
      walk(child, level + 1);
    }
  };
  walk('', 1);
  return found;
}
