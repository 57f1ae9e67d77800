// The public shape of attribution: who energy is attributed to (Consumer), what a drained
// Batch carries of it (AttributedIntervals, in column form like the energy), and the
// running totals a consumer reads without keeping its own. An attribution is an estimate
// (measured energy split by CPU time), never a measurement: every figure here says so in
// its name or its docs.

/** What a consumer is: a process (pid + start time) or a cgroup (a path below the root). */
export type ConsumerKind = 'process' | 'cgroup';

/** A container runtime recognised in a cgroup's path. */
export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'libpod';

/**
 * One thing energy is attributed to. The same object stays for the sampler's life; only
 * `endedMs` changes (once). `index` is what the batch columns refer to.
 */
export interface Consumer {
  /** Position in Attribution.consumers and in the `consumer` column of every batch. */
  readonly index: number;
  readonly kind: ConsumerKind;
  /** process: the pid in decimal ("1234"); cgroup: its path below the cgroup root ("/system.slice/docker-4f2a....scope"). */
  readonly id: string;
  /**
   * Unique for the sampler's life, also across pid reuse: "process/<pid>/<startTicks>" or
   * "cgroup/<path>". Use it as a map key; show `name`.
   */
  readonly key: string;
  /**
   * What a user recognises. process: its comm ("node"); cgroup: the container's name
   * where the runtime tells it, else the runtime and short id ("docker 4f2a9c1b2e3d"),
   * the systemd unit ("nginx.service", "user.slice"), "pod <uid>" for a Kubernetes pod's
   * own cgroup, else the last path component; "/" for the root.
   */
  readonly name: string;
  /** process: its pid. */
  readonly pid?: number;
  /** process: field 22 of /proc/<pid>/stat (clock ticks after boot): tells a reused pid apart. */
  readonly startTicks?: number;
  /** process: its command line, arguments joined by spaces ('' for a kernel thread or when unreadable). */
  readonly command?: string;
  /** process: true for the process that opened the sampler. */
  readonly self?: boolean;
  /** cgroup: the container runtime and the full container id, where the path shows one. */
  readonly container?: { readonly runtime: ContainerRuntime; readonly id: string };
  /** cgroup: the Kubernetes pod uid (with dashes), for a pod's cgroup and those below it. */
  readonly podUid?: string;
  /** cgroup: the innermost systemd unit the path names ("docker.service", "user-1000.slice", "session-3.scope"). */
  readonly unit?: string;
  /** cgroup: how many levels below the root (the root itself is 0). */
  readonly depth?: number;
  /**
   * When it stopped being counted, ms since the epoch on the ticks' clock: the process
   * ended or the cgroup was removed (its last CPU reading before that is counted). NaN
   * while it is alive.
   */
  endedMs: number;
}

/**
 * Energy attributed over consecutive intervals, for one kind of consumer. An interval
 * runs between two rounds of CPU-time reads (processes: every 1 / processRateHz s;
 * cgroups: every 1 / cgroupRateHz s). For every interval and every attributed domain:
 *
 *   sum over consumers of their energy + unattributed == measured   (integer microjoules, exactly)
 *
 * Processes and cgroups are separate views of the same energy (a process is inside a
 * cgroup): never add one view to the other.
 *
 * All energies are cumulative since attribution started (like Batch.energyUj), so a
 * consumer's energy between two instants is a difference, and a rate() works on them.
 */
export interface AttributedIntervals {
  readonly kind: ConsumerKind;
  /**
   * The attributed domains, by index into Batch.domains: every CPU domain (package, core,
   * uncore, dram, psys); GPU domains are never attributed by CPU time.
   */
  readonly domains: readonly number[];
  /** Interval ends, ms since the epoch on the ticks' clock, rising. One entry per interval. */
  readonly endMs: Float64Array;
  /**
   * Per attributed domain (same order as `domains`), the measured energy at each end, in
   * whole microjoules since attribution started: the domain's counter interpolated
   * between the ticks around the end, rounded.
   */
  readonly measuredUj: readonly Float64Array[];
  /**
   * Per attributed domain, at each end, the whole microjoules not attributed to any
   * consumer since attribution started: busy CPU time of what is not tracked, and all the
   * energy of intervals in which no CPU was busy.
   */
  readonly unattributedUj: readonly Float64Array[];
  /**
   * Rows: one per (interval, consumer that used CPU in it), in interval order. Row r says
   * that at endMs[interval[r]] consumer `consumer[r]` had been attributed energyUj[d][r]
   * whole microjoules of domain d in total and had used cpuSeconds[r] of CPU time since
   * it was first read. A consumer without a row in an interval kept its previous totals.
   */
  readonly rows: {
    readonly length: number;
    readonly interval: Uint32Array;
    readonly consumer: Uint32Array;
    /** Per attributed domain, cumulative whole microjoules of that consumer. */
    readonly energyUj: readonly Float64Array[];
    readonly cpuSeconds: Float64Array;
  };
}

/** What a Batch carries when the sampler attributes (Batch.attribution). */
export interface BatchAttribution {
  /** Every consumer seen so far, by index (rows refer to it). Grows; never shrinks. */
  readonly consumers: readonly Consumer[];
  /** Present when processes are tracked (pids, match, self or allProcesses). */
  readonly processes?: AttributedIntervals;
  /** Present when cgroups are tracked. */
  readonly cgroups?: AttributedIntervals;
}

/** One consumer's running total, as Attribution.totals() gives it. */
export interface ConsumerTotal {
  readonly consumer: Consumer;
  /** Per attributed domain (same order as AttributionTotals.domains), whole microjoules. */
  readonly energyUj: readonly number[];
  /** CPU time used since it was first read. */
  readonly cpuSeconds: number;
}

/** The running totals of one view, up to the last attributed interval end. */
export interface AttributionTotals {
  readonly kind: ConsumerKind;
  /** The attributed domains' names ("package-0", "core-0", ...). */
  readonly domains: readonly string[];
  /** The last interval end attributed, ms since the epoch; NaN before the first. */
  readonly endMs: number;
  readonly measuredUj: readonly number[];
  readonly unattributedUj: readonly number[];
  /** Every consumer of this kind seen so far (ended ones too), in index order. */
  readonly consumers: readonly ConsumerTotal[];
}

/** Counts of what attribution did and could not do; each warning once in `warnings`. */
export interface AttributionStats {
  /** Consumers being read now. */
  processesTracked: number;
  cgroupsTracked: number;
  /** Processes that ended and cgroups that were removed while tracked. */
  ended: number;
  /** Processes skipped because their /proc/<pid> cannot be read (hidepid, another user's). */
  unreadable: number;
  /** Rounds of CPU-time reads done, and dropped because the ring was full. */
  rounds: number;
  droppedRounds: number;
  /** Reads that failed for another reason than the consumer ending. */
  readErrors: number;
  /** One line each: what happened, which pid/path/option, and the way out. */
  warnings: string[];
}

/**
 * The sampler's attribution (Sampler.attribution, present when any attribution option is
 * set). Totals advance as the sampler drains (subscribe or hold it as usual).
 */
export interface Attribution {
  /** Every consumer seen so far, by index. */
  readonly consumers: readonly Consumer[];
  /** The running totals of a view; undefined when that kind is not tracked. */
  totals(kind: ConsumerKind): AttributionTotals | undefined;
  /**
   * The calling process's attributed energy in whole microjoules since attribution
   * started, per domain name, up to the last interval end (needs `self`). For measure():
   * its share between two instants is a difference of two of these.
   */
  self(): { readonly endMs: number; readonly energyUj: Readonly<Record<string, number>> } | undefined;
  stats(): AttributionStats;
}
