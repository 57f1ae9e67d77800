// The sampler's options, each declared once in SAMPLER_OPTIONS: key, environment variable,
// flag, parser, default, help and README line. The API, the CLI, the examples, the native
// boundary and the README table (checked by test/unit/options.test.ts) all derive from it.
import { existsSync } from 'node:fs';
import { usageError } from './errors.js';
import type { NativeOptions, NativeSamplerOptions } from './native.js';
import {
  envNames,
  parseTexts,
  textsFromEnv,
  withDefaults,
  type OptionNames,
  type OptionSpec,
  type OptionTexts,
  type OptionValue,
  type OptionValues,
} from './option-table.js';

export { parseNumber } from './option-table.js';

export const MIN_RATE_HZ = 1;
export const MAX_RATE_HZ = 100_000;
export const BUFFER_SECONDS = 10;

type SamplerOptionSpec = OptionSpec & {
  /**
   * source: read by discovery too (listDomains, readOnce); sampler: by the sampler only;
   * attribution: what energy is attributed to (lib/attribution/), read in TypeScript.
   */
  group: 'source' | 'sampler' | 'attribution';
  /** The key the addon reads it under; absent: the option's own key; false: not sent. */
  native?: string | false;
  /** The description column of the README's Options table. */
  doc: string;
};

export const SAMPLER_OPTIONS = {
  /** auto (default): powercap, else perf_event (where the kernel has the power PMU), else msr, else model. */
  source: {
    group: 'source', env: 'WATTMETER_SOURCE', flag: '--source',
    kind: 'choice', choices: ['auto', 'powercap', 'perf_event', 'msr', 'model'], default: 'auto',
    help: 'auto tries them in this order',
    doc: '`auto`, `powercap`, `perf_event`, `msr`, `model`',
  },
  /** Root of sysfs (default /sys); powercap zones are under <sysfsRoot>/class/powercap. */
  sysfsRoot: {
    group: 'source', env: 'WATTMETER_SYSFS_ROOT', flag: '--sysfs-root', metavar: 'DIR',
    kind: 'string', default: '/sys',
    help: 'root of sysfs',
    doc: 'where `class/powercap` and `devices/system/cpu` are',
  },
  /** Root of procfs (default /proc): stat and cpuinfo. */
  procRoot: {
    group: 'source', env: 'WATTMETER_PROC_ROOT', flag: '--proc-root', metavar: 'DIR',
    kind: 'string', default: '/proc',
    help: 'root of procfs',
    doc: '`stat` (model) and `cpuinfo` (vendor, model)',
  },
  /** MSR device template, %d is the CPU number (default /dev/cpu/%d/msr). */
  msrPath: {
    group: 'source', env: 'WATTMETER_MSR_PATH', flag: '--msr-path', metavar: 'TEMPLATE',
    kind: 'string', default: '/dev/cpu/%d/msr',
    help: 'MSR device, %d is the CPU',
    doc: 'MSR device, `%d` is the CPU',
  },
  /** Whose MSR addresses to read (default auto: from cpuinfo). */
  cpuVendor: {
    group: 'source', env: 'WATTMETER_CPU_VENDOR', flag: '--cpu-vendor',
    kind: 'choice', choices: ['auto', 'intel', 'amd'], default: 'auto',
    help: 'whose MSR layout; auto reads cpuinfo',
    doc: '`auto` (from cpuinfo), `intel`, `amd`',
  },
  /** Also report intel-rapl-mmio zones, which duplicate the package zone. */
  includeMmio: {
    group: 'source', env: 'WATTMETER_INCLUDE_MMIO', flag: '--include-mmio',
    kind: 'boolean', default: false,
    help: 'also intel-rapl-mmio zones',
    doc: 'also `intel-rapl-mmio` zones (they duplicate the package)',
  },
  /** The model source: package watts at 0 % CPU utilisation. */
  modelIdleWatts: {
    group: 'source', env: 'WATTMETER_MODEL_IDLE_WATTS', flag: '--model-idle-watts', metavar: 'W',
    kind: 'number', min: 0, max: 1e6, default: 10,
    help: 'model source: watts at 0 % CPU',
    doc: 'model source: watts at 0 % CPU',
  },
  /** The model source: package watts at 100 % CPU utilisation. */
  modelMaxWatts: {
    group: 'source', env: 'WATTMETER_MODEL_MAX_WATTS', flag: '--model-max-watts', metavar: 'W',
    kind: 'number', min: 0, max: 1e6, default: 65,
    help: 'model source: watts at 100 % CPU',
    doc: 'model source: watts at 100 % CPU',
  },
  /** Also one domain per NVIDIA GPU (gpu-0...), from NVML's total energy (Volta and newer). */
  gpu: {
    group: 'source', env: 'WATTMETER_GPU', flag: '--gpu',
    kind: 'boolean', default: false,
    help: 'also NVIDIA GPUs (NVML)',
    doc: 'also NVIDIA GPUs through NVML (`gpu-0`...)',
  },
  /** The NVML library to load (default libnvidia-ml.so.1, found by the dynamic loader). */
  nvmlLibrary: {
    group: 'source', env: 'WATTMETER_NVML_LIBRARY', flag: '--nvml-library', metavar: 'LIB',
    kind: 'string', emptyIsUnset: true, default: 'libnvidia-ml.so.1',
    help: 'the NVML library to load',
    doc: 'where NVML is',
  },
  /** Ticks per second, MIN_RATE_HZ to MAX_RATE_HZ (default 1000). */
  rateHz: {
    group: 'sampler', env: 'WATTMETER_RATE_HZ', flag: '--rate', metavar: 'HZ',
    kind: 'number', min: MIN_RATE_HZ, max: MAX_RATE_HZ, default: 1000,
    help: `ticks per second, ${MIN_RATE_HZ} to ${MAX_RATE_HZ}`,
    doc: `${MIN_RATE_HZ} to ${MAX_RATE_HZ} ticks per second`,
  },
  /** Ticks the ring buffer holds (default: 10 s at rateHz, at least 1024). */
  bufferCapacity: {
    group: 'sampler', env: 'WATTMETER_BUFFER_CAPACITY', flag: '--buffer-capacity', metavar: 'TICKS', native: 'capacity',
    kind: 'number', integer: true, min: 1024, max: 1e8, defaultDoc: `${BUFFER_SECONDS} s of ticks, at least 1024`,
    help: 'ring size in ticks',
    doc: 'ring size in ticks',
  },
  /** Ask for SCHED_FIFO; refused quietly (noted in stats) without the right. */
  realtime: {
    group: 'sampler', env: 'WATTMETER_REALTIME', flag: '--realtime',
    kind: 'boolean', default: false,
    help: 'ask for SCHED_FIFO',
    doc: 'ask for SCHED_FIFO (a note in `stats().notes` when refused)',
  },
  /**
   * Once the counters are open, switch the process to this user (name or uid): start as
   * root to open root-only counters, then run unprivileged.
   */
  user: {
    group: 'sampler', env: 'WATTMETER_USER', flag: '--user', metavar: 'USER', native: false,
    kind: 'string', emptyIsUnset: true,
    help: 'drop to USER once the counters are open',
    doc: 'switch to this user once the counters are open',
  },
  /** Attribute energy to these processes (their threads included). */
  pids: {
    group: 'attribution', env: 'WATTMETER_PIDS', flag: '--pid', metavar: 'PID', native: false,
    kind: 'integers', min: 1, max: 2 ** 22,
    help: 'attribute energy to this process (repeat, or a comma list)',
    doc: 'attribute energy to these processes (comma list; the flag repeats)',
  },
  /** Attribute energy to every process whose name or command line matches (a JavaScript RegExp). */
  match: {
    group: 'attribution', env: 'WATTMETER_MATCH', flag: '--match', metavar: 'REGEX', native: false,
    kind: 'string', emptyIsUnset: true,
    help: 'attribute energy to processes whose name or command line matches',
    doc: 'attribute energy to processes whose name or command line matches this RegExp',
  },
  /** Attribute energy to this process and each of its descendants. */
  self: {
    group: 'attribution', env: 'WATTMETER_SELF', flag: '--self', native: false,
    kind: 'boolean', default: false,
    help: 'attribute energy to this process and its children',
    doc: 'attribute energy to this process and its descendants',
  },
  /** Attribute energy to every process (what `top` and the exporters' top N rank). */
  allProcesses: {
    group: 'attribution', env: 'WATTMETER_ALL_PROCESSES', flag: '--all-processes', native: false,
    kind: 'boolean', default: false,
    help: 'attribute energy to every process',
    doc: 'attribute energy to every process',
  },
  /** Attribute energy to every cgroup below cgroupRoot, down to cgroupDepth levels. */
  cgroups: {
    group: 'attribution', env: 'WATTMETER_CGROUPS', flag: '--cgroups', native: false,
    kind: 'boolean', default: false,
    help: 'attribute energy to cgroups (containers, services)',
    doc: 'attribute energy to every cgroup below `cgroupRoot` (containers, services, pods)',
  },
  /** Where cgroups are mounted: a cgroup v2 mount, a v1 cpuacct mount, or /sys/fs/cgroup holding either. */
  cgroupRoot: {
    group: 'attribution', env: 'WATTMETER_CGROUP_ROOT', flag: '--cgroup-root', metavar: 'DIR', native: false,
    kind: 'string', default: '/sys/fs/cgroup',
    help: 'where cgroups are mounted',
    doc: 'a cgroup v2 mount, a v1 `cpuacct` mount, or the directory holding them',
  },
  /** How many levels below the root cgroups are tracked; deeper ones count in their ancestor at this depth. */
  cgroupDepth: {
    group: 'attribution', env: 'WATTMETER_CGROUP_DEPTH', flag: '--cgroup-depth', metavar: 'N', native: false,
    kind: 'number', integer: true, min: 1, max: 16, default: 4,
    help: 'cgroup levels below the root to track',
    doc: 'levels below the root tracked; deeper cgroups count in their ancestor',
  },
  /** Rounds of process CPU-time reads per second (/proc advances in 10 ms ticks). */
  processRateHz: {
    group: 'attribution', env: 'WATTMETER_PROCESS_RATE_HZ', flag: '--process-rate', metavar: 'HZ', native: false,
    kind: 'number', min: 0.1, max: 100, default: 10,
    help: 'process CPU-time reads per second',
    doc: 'process CPU-time reads per second (`/proc` counts in 10 ms ticks)',
  },
  /** Rounds of cgroup CPU-time reads per second (cgroups count in ns). */
  cgroupRateHz: {
    group: 'attribution', env: 'WATTMETER_CGROUP_RATE_HZ', flag: '--cgroup-rate', metavar: 'HZ', native: false,
    kind: 'number', min: 0.1, max: 1000, default: 100,
    help: 'cgroup CPU-time reads per second',
    doc: 'cgroup CPU-time reads per second (cgroups count in ns)',
  },
  /** How many processes `top` and the exporters show: the most energy over the last minute. */
  top: {
    group: 'attribution', env: 'WATTMETER_TOP', flag: '--top', metavar: 'N', native: false,
    kind: 'number', integer: true, min: 1, max: 1000, default: 10,
    help: 'processes shown by top and the exporters',
    doc: 'processes `top` and the exporters show (most energy over the last minute)',
  },
} as const satisfies Record<string, SamplerOptionSpec>;

type Table = typeof SAMPLER_OPTIONS;
type Key = keyof Table;
type Group = Table[Key]['group'];
type KeysOf<G extends Group> = { [K in Key]: Table[K]['group'] extends G ? K : never }[Key];
type NativeKey<K, S> = S extends { native: false } ? never : S extends { native: infer N extends string } ? N : K;

/** The options of a group as the addon reads them: every one filled, under its native key. */
export type NativeValues<G extends Group> = {
  -readonly [K in KeysOf<G> as NativeKey<K, Table[K]>]: OptionValue<Table[K]>;
};

export interface SamplerOptions extends OptionValues<Table> {}
export interface SourceOptions extends Pick<SamplerOptions, KeysOf<'source'>> {}

export const DEFAULT_RATE_HZ = SAMPLER_OPTIONS.rateHz.default;

const KEYS = Object.keys(SAMPLER_OPTIONS) as Key[];
const keysOf = <G extends Group>(group: G) => KEYS.filter((key) => SAMPLER_OPTIONS[key].group === group) as KeysOf<G>[];
const SOURCE_KEYS = keysOf('source');

/** Environment variable for each option, read by the CLI and the examples. */
export const ENV = envNames(SAMPLER_OPTIONS);

/**
 * What the option was called where an object came from (optionsFromEnv: the variables),
 * so that a check made later, when the sampler opens, names what the caller set.
 */
const NAMED = new WeakMap<SamplerOptions, OptionNames<Table>>();

/**
 * Reads the options from the environment (or any string map, such as parsed flags):
 * `names` says which variable or flag name to mention in an error.
 */
export function parseOptions(values: OptionTexts<Table>, names: OptionNames<Table> = ENV): SamplerOptions {
  const options: SamplerOptions = parseTexts(SAMPLER_OPTIONS, values, { ...ENV, ...names });
  NAMED.set(options, { ...ENV, ...names });
  return options;
}

/** How the caller calls each option of `options` (a flag, a variable), for an error to name it. */
export function optionNames(options: SamplerOptions): OptionNames<Table> {
  return NAMED.get(options) ?? {};
}

/** Says how the caller calls the options of `options`; returns it. */
export function nameOptions<T extends SamplerOptions>(options: T, names: OptionNames<Table>): T {
  NAMED.set(options, names);
  return options;
}

/** The options set in the environment (WATTMETER_*). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): SamplerOptions {
  return parseOptions(textsFromEnv(SAMPLER_OPTIONS, env));
}

/**
 * Fills defaults and checks what the native layer cannot check as clearly. An error names
 * each option as `names` says: by default as the caller set it (its key, or its variable
 * for an object from optionsFromEnv).
 */
export function resolveSourceOptions(options: SourceOptions = {}, names: OptionNames<Table> = NAMED.get(options) ?? {}): NativeOptions {
  const resolved: NativeOptions = withDefaults(SAMPLER_OPTIONS, SOURCE_KEYS, options);
  // Through parseTexts again: a caller of the API passes values, not texts, unchecked.
  const name = (key: Key) => names[key] ?? key;
  for (const key of ['source', 'cpuVendor'] as const) {
    parseTexts(SAMPLER_OPTIONS, { [key]: resolved[key] }, { [key]: name(key) });
  }
  const roots = [
    ['sysfsRoot', 'the directory that holds class/powercap and devices/system/cpu'],
    ['procRoot', 'the directory that holds stat and cpuinfo'],
  ] as const;
  for (const [key, what] of roots) {
    if (!existsSync(resolved[key])) {
      throw usageError(`${resolved[key]} does not exist (${name(key)}): point it at ${what}.`);
    }
  }
  if ((resolved.msrPath.match(/%d/g) ?? []).length !== 1) {
    throw usageError(`${name('msrPath')} must contain %d once, for the CPU number; got "${resolved.msrPath}".`);
  }
  if (resolved.modelMaxWatts < resolved.modelIdleWatts) {
    throw usageError(
      `${name('modelMaxWatts')} (${resolved.modelMaxWatts}) must not be below ${name('modelIdleWatts')} (${resolved.modelIdleWatts}).`,
    );
  }
  return resolved;
}

export function resolveSamplerOptions(options: SamplerOptions = {}, names: OptionNames<Table> = NAMED.get(options) ?? {}): NativeSamplerOptions {
  const name = (key: Key) => names[key] ?? key;
  const rateHz = options.rateHz ?? DEFAULT_RATE_HZ;
  if (!Number.isFinite(rateHz) || rateHz < MIN_RATE_HZ || rateHz > MAX_RATE_HZ) {
    throw usageError(`${name('rateHz')} must be between ${MIN_RATE_HZ} and ${MAX_RATE_HZ}; got ${rateHz}.`);
  }
  const capacity = Math.ceil(options.bufferCapacity ?? Math.max(1024, rateHz * BUFFER_SECONDS));
  // The ring is drained at least once a second (the exporters' longest wait): a smaller
  // one would drop ticks however fast its consumers are.
  const least = Math.max(SAMPLER_OPTIONS.bufferCapacity.min, Math.ceil(rateHz));
  const most = SAMPLER_OPTIONS.bufferCapacity.max;
  if (!(capacity >= least && capacity <= most)) {
    throw usageError(
      `${name('bufferCapacity')} must be between ${least} (a second of ticks at ${rateHz} Hz, or 1024) and ${most} ticks; got ${options.bufferCapacity}.`,
    );
  }
  return { ...resolveSourceOptions(options, names), rateHz, capacity, realtime: options.realtime ?? SAMPLER_OPTIONS.realtime.default };
}

/** The attribution options, checked and filled; undefined when nothing is to be attributed. */
export interface ResolvedAttribution {
  procRoot: string;
  pids: number[];
  match: RegExp | undefined;
  self: boolean;
  allProcesses: boolean;
  cgroups: boolean;
  cgroupRoot: string;
  cgroupDepth: number;
  processRateHz: number;
  cgroupRateHz: number;
  /** What to call each option in a message, as the caller set it. */
  names: Readonly<Record<KeysOf<'attribution'>, string>>;
}

const ATTRIBUTION_KEYS = keysOf('attribution');

export function resolveAttributionOptions(options: SamplerOptions = {}, names: OptionNames<Table> = NAMED.get(options) ?? {}): ResolvedAttribution | undefined {
  const values = withDefaults(SAMPLER_OPTIONS, ATTRIBUTION_KEYS, options);
  const named = Object.fromEntries(ATTRIBUTION_KEYS.map((key) => [key, names[key] ?? key])) as ResolvedAttribution['names'];
  const pids = values.pids ?? [];
  if (pids.length === 0 && !values.match && !values.self && !values.allProcesses && !values.cgroups) return undefined;
  // Through parseTexts again: a caller of the API passes values, not texts, unchecked.
  for (const key of ['cgroupDepth', 'processRateHz', 'cgroupRateHz', 'top'] as const) {
    parseTexts(SAMPLER_OPTIONS, { [key]: String(values[key]) }, { [key]: named[key] });
  }
  for (const pid of pids) {
    if (!(Number.isInteger(pid) && pid >= 1)) throw usageError(`${named.pids} must be process ids (whole numbers above 0); got ${pid}.`);
  }
  let match: RegExp | undefined;
  if (values.match) {
    try {
      match = new RegExp(values.match);
    } catch (error) {
      throw usageError(`${named.match} is not a valid regular expression: ${(error as Error).message}. It is a JavaScript RegExp, e.g. "^node$" or "postgres|redis".`);
    }
  }
  return {
    procRoot: options.procRoot ?? SAMPLER_OPTIONS.procRoot.default,
    pids,
    match,
    self: values.self,
    allProcesses: values.allProcesses,
    cgroups: values.cgroups,
    cgroupRoot: values.cgroupRoot,
    cgroupDepth: values.cgroupDepth,
    processRateHz: values.processRateHz,
    cgroupRateHz: values.cgroupRateHz,
    names: named,
  };
}
