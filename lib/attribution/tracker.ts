// What the CPU-time thread reads: the processes and cgroups the options ask for, found
// again every RESCAN_MS (processes start and end, containers come and go), each given a
// slot in the native thread and a Consumer in the Attributor. The Sampler drains through
// ingest(); this is the Attribution a user reads (types.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { NativeDomain, NativeSampler } from '../native.js';
import type { ResolvedAttribution } from '../options.js';
import { Attributor, type EnergyColumns } from './attributor.js';
import { identifyCgroup } from './cgroup-name.js';
import { findHierarchy, listCgroups, type CgroupHierarchy } from './cgroup-tree.js';
import { descendants, listPids, processInfo } from './procfs.js';
import type { Attribution, AttributionStats, AttributionTotals, BatchAttribution, Consumer, ConsumerKind } from './types.js';

/** How often the tracked processes and cgroups are looked for again. */
export const RESCAN_MS = 1000;

/** Records the CPU-time ring holds: a second of 25 000 processes at 10 Hz (6 MB). */
const CPU_RING_RECORDS = 2 ** 18;

/** A process that did not match is tried again this many scans (it may exec after its fork). */
const MATCH_RETRIES = 3;

export class SamplerAttribution implements Attribution {
  readonly #native: NativeSampler;
  readonly #options: ResolvedAttribution;
  readonly #attributor: Attributor;
  #records = new Float64Array(0); // reused: the records are read at once, never kept
  readonly #hierarchy: CgroupHierarchy | undefined;
  readonly #processes: boolean;
  readonly #pids = new Map<number, number>(); // pid -> slot, while tracked
  readonly #cgroups = new Map<string, number>(); // path -> slot, while tracked
  readonly #cgroupGenerations = new Map<string, number>();
  readonly #rejected = new Map<number, number>(); // pid -> scans it did not match
  #nextSlot = 0;
  #lastScanMs = -Infinity;
  #unreadable = 0;
  readonly #warnings: string[] = [];
  readonly #warned = new Set<string>();

  constructor(native: NativeSampler, domains: readonly NativeDomain[], options: ResolvedAttribution, clockTicksPerSecond: number, nowMs: number) {
    this.#native = native;
    this.#options = options;
    this.#processes = options.pids.length > 0 || !!options.match || options.self || options.allProcesses;
    this.#hierarchy = options.cgroups ? findHierarchy(options.cgroupRoot, options.names.cgroupRoot) : undefined;
    for (const pid of options.pids) {
      if (!existsSync(`${options.procRoot}/${pid}`)) {
        throw usageError(
          `no process has pid ${pid} (${options.names.pids}): ${options.procRoot}/${pid} does not exist. ` +
            `Check it with \`ps -p ${pid}\`; a process that ends while sampled is counted up to its end.`,
        );
      }
    }
    // GPUs are not attributed by CPU time.
    const attributed = domains.flatMap((d, i) => (d.source === 'nvml' ? [] : [i]));
    this.#attributor = new Attributor({
      domains: attributed,
      domainNames: attributed.map((i) => domains[i].name),
      processes: this.#processes,
      cgroups: !!this.#hierarchy,
      clockTicksPerSecond,
      onEnded: (slot, consumer) => this.#forget(slot, consumer),
    });
    native.openCpuTimes({
      procStat: `${options.procRoot}/stat`,
      rootCgroup: this.#hierarchy ? path.join(this.#hierarchy.mount, this.#hierarchy.file) : '',
      rootCgroupV2: this.#hierarchy?.version === 2,
      processRateHz: options.processRateHz,
      cgroupRateHz: options.cgroupRateHz,
      capacity: CPU_RING_RECORDS,
    });
    this.#scan(nowMs);
    if (options.match && this.#pids.size === 0) {
      this.#warn(
        `no process matches /${options.match.source}/ (${options.names.match}) yet: it is tried on each new process's name and command line every ${RESCAN_MS / 1000} s. ` +
          `Check the pattern with \`pgrep -af '${options.match.source}'\`.`,
      );
    }
  }

  get consumers(): readonly Consumer[] {
    return this.#attributor.consumers;
  }

  /** The sampler's drain: this drain's ticks, the CPU times waiting, then a rescan when due. */
  ingest(energy: EnergyColumns, nowMs: number): BatchAttribution | undefined {
    const length = this.#native.pendingCpu() * 3;
    // Grown, never shrunk: a drain into memory already touched faults in no page (lib/slab.ts).
    if (length > this.#records.length) this.#records = new Float64Array(Math.max(length, 2 * this.#records.length));
    const records = this.#records.subarray(0, length);
    const attribution = this.#attributor.ingest(energy, records.subarray(0, this.#native.drainCpu(records) * 3));
    if (nowMs - this.#lastScanMs >= RESCAN_MS) this.#scan(nowMs);
    return attribution;
  }

  totals(kind: ConsumerKind): AttributionTotals | undefined {
    return this.#attributor.totals(kind);
  }

  self(): { readonly endMs: number; readonly energyUj: Readonly<Record<string, number>> } | undefined {
    const totals = this.totals('process');
    const own = totals?.consumers.find((c) => c.consumer.self);
    if (!totals || !own) return undefined;
    return { endMs: totals.endMs, energyUj: Object.fromEntries(totals.domains.map((name, d) => [name, own.energyUj[d]])) };
  }

  stats(): AttributionStats {
    const native = this.#native.cpuStats();
    return {
      processesTracked: this.#pids.size,
      cgroupsTracked: this.#cgroups.size,
      ended: this.consumers.filter((c) => !Number.isNaN(c.endedMs)).length,
      unreadable: this.#unreadable,
      rounds: native.rounds,
      droppedRounds: native.droppedRounds,
      readErrors: native.readErrors,
      warnings: [...this.#warnings],
    };
  }

  #warn(message: string, once = message): void {
    if (this.#warned.has(once)) return;
    this.#warned.add(once);
    this.#warnings.push(message);
  }

  #forget(slot: number, consumer: Consumer): void {
    if (consumer.kind === 'process' && this.#pids.get(consumer.pid!) === slot) this.#pids.delete(consumer.pid!);
    if (consumer.kind === 'cgroup' && this.#cgroups.get(consumer.id) === slot) this.#cgroups.delete(consumer.id);
  }

  #untrack(kind: ConsumerKind, slot: number, nowMs: number): void {
    this.#native.untrackCpu(slot);
    this.#attributor.endSlot(kind, slot, nowMs);
  }

  #scan(nowMs: number): void {
    this.#lastScanMs = nowMs;
    if (this.#processes) this.#scanProcesses(nowMs);
    if (this.#hierarchy) this.#scanCgroups(this.#hierarchy, nowMs);
  }

  #scanProcesses(nowMs: number): void {
    const { procRoot, pids, match, self, allProcesses } = this.#options;
    const listed = new Set(listPids(procRoot));
    for (const [pid, slot] of this.#pids) {
      if (listed.has(pid)) continue;
      this.#pids.delete(pid);
      this.#untrack('process', slot, nowMs);
    }
    const wanted = new Set<number>(pids.filter((pid) => listed.has(pid)));
    if (self) for (const pid of descendants(procRoot, process.pid)) if (listed.has(pid)) wanted.add(pid);
    if (allProcesses) for (const pid of listed) wanted.add(pid);
    for (const pid of wanted) if (!this.#pids.has(pid)) this.#trackProcess(pid);
    if (!match || allProcesses) return;
    for (const pid of this.#rejected.keys()) if (!listed.has(pid)) this.#rejected.delete(pid);
    for (const pid of listed) {
      if (this.#pids.has(pid)) continue;
      const tries = this.#rejected.get(pid) ?? 0;
      if (tries >= MATCH_RETRIES) continue;
      const info = processInfo(procRoot, pid);
      if (match.test(info.name) || match.test(info.command)) {
        this.#rejected.delete(pid);
        this.#trackProcess(pid);
      } else {
        this.#rejected.set(pid, tries + 1);
      }
    }
  }

  #trackProcess(pid: number): void {
    const { procRoot } = this.#options;
    const slot = this.#nextSlot++;
    const file = `${procRoot}/${pid}/stat`;
    const { error, startTicks } = this.#native.trackCpu(slot, 'process', file);
    if (error === 'ENOENT' || error === 'ESRCH') return; // ended before we looked
    if (error === 'EACCES' || error === 'EPERM') {
      this.#unreadable++;
      this.#warn(
        `cannot read ${file} (${error}): /proc is mounted with hidepid or the process is another user's. ` +
          'Such processes are counted in stats().unreadable and their CPU time stays unattributed; run as root, or remount /proc with hidepid=0 or a gid= group that includes this user.',
        'unreadable',
      );
      return;
    }
    if (error) {
      this.#warn(`cannot read ${file} (${error}): pid ${pid} is not attributed.`);
      return;
    }
    const info = processInfo(procRoot, pid);
    this.#pids.set(pid, slot);
    this.#attributor.addConsumer(slot, {
      kind: 'process',
      id: String(pid),
      key: `process/${pid}/${startTicks}`,
      name: info.name || String(pid),
      pid,
      startTicks,
      command: info.command,
      self: pid === process.pid && procRoot === '/proc',
      endedMs: NaN,
    });
  }

  #scanCgroups(hierarchy: CgroupHierarchy, nowMs: number): void {
    const listed = listCgroups(hierarchy, this.#options.cgroupDepth);
    const present = new Set(listed);
    for (const [cgroup, slot] of this.#cgroups) {
      if (present.has(cgroup)) continue;
      this.#cgroups.delete(cgroup);
      this.#untrack('cgroup', slot, nowMs);
    }
    for (const cgroup of listed) {
      if (this.#cgroups.has(cgroup)) continue;
      const slot = this.#nextSlot++;
      const file = path.join(hierarchy.mount, cgroup, hierarchy.file);
      const parentSlot = this.#cgroups.get(cgroup.slice(0, cgroup.lastIndexOf('/'))) ?? -1;
      const { error } = this.#native.trackCpu(slot, hierarchy.version === 2 ? 'cgroup2' : 'cgroup1', file, parentSlot);
      if (error === 'ENOENT' || error === 'ESRCH') continue; // removed before we looked
      if (error) {
        this.#warn(`cannot read ${file} (${error}): cgroup ${cgroup} is not attributed. Run as root to read every cgroup.`, `cgroup ${error}`);
        continue;
      }
      const generation = (this.#cgroupGenerations.get(cgroup) ?? 0) + 1;
      this.#cgroupGenerations.set(cgroup, generation);
      this.#cgroups.set(cgroup, slot);
      this.#attributor.addConsumer(
        slot,
        {
          kind: 'cgroup',
          id: cgroup,
          key: generation === 1 ? `cgroup/${cgroup}` : `cgroup/${cgroup}@${generation}`,
          ...identifyCgroup(cgroup),
          depth: cgroup.split('/').length - 1,
          endedMs: NaN,
        },
        parentSlot,
      );
    }
  }
}
