// Open as root, then run as somebody else: the kernel checks permission on energy_uj
// and /dev/cpu/*/msr at open(), so descriptors opened before the drop keep reading.
import { readFileSync } from 'node:fs';
import { WattmeterError } from './errors.js';
import { addon } from './native.js';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

/** Looks a user up by name or numeric uid in /etc/passwd. */
function findUser(user: string): PasswdEntry | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name && (name === user || uid === user)) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/**
 * Switches the whole process to `user` (a name or a numeric uid): groups first, then the
 * uid; then no_new_privs, so nothing it runs later can become root again.
 */
export function dropPrivileges(user: string): void {
  const fail = (why: string, cause?: unknown) =>
    new WattmeterError(`Cannot switch to user "${user}" (WATTMETER_USER / --user): ${why}`, { cause });
  if (process.getuid?.() !== 0) {
    throw fail('wattmeter is not running as root. Start it as root so it can open the counters, or leave the user unset.');
  }
  const entry = findUser(user);
  if (!entry) throw fail('no such user in /etc/passwd.');
  try {
    process.setgroups!([entry.gid]); // no supplementary groups of root's survive
    process.setgid!(entry.gid);
    process.setuid!(entry.uid);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  addon().noNewPrivileges();
}
