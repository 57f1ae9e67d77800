// The narrow boundary to the C++ addon (native/addon.cc). Everything that crosses it is
// plain data or a Float64Array of ticks: no per-sample JavaScript objects.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { WattmeterError } from './errors.js';
import type { NativeValues } from './options.js';
import type { NativeStats } from './stats.js';

export type { NativeStats };

/** Where a domain's values come from; nvml domains are GPUs, added to any CPU source. */
export type SourceKind = 'powercap' | 'perf_event' | 'msr' | 'model' | 'nvml';

/**
 * Options the native layer understands; the TypeScript layer fills every field. Derived
 * from SAMPLER_OPTIONS in lib/options.ts; the addon lists the keys it reads in OPTION_KEYS.
 */
export interface NativeOptions extends NativeValues<'source'> {}

export interface NativeSamplerOptions extends NativeOptions, NativeValues<'sampler'> {}

export interface NativeDomain {
  name: string; // package-0, core-0, uncore-0, dram-0, psys, gpu-0
  source: SourceKind;
  path: string; // the file read (powercap energy_uj, MSR device file + register, /proc/stat, perf event file, NVML library#index)
  /** Value at which the raw counter wraps, in microjoules; 0 for the model, which never wraps. */
  maxEnergyRangeUj: number;
}

export interface NativeDiscovery {
  source: SourceKind;
  domains: NativeDomain[];
  /** One line per real source that was tried by `auto` and found unusable, and why. */
  warnings: string[];
}

export interface NativeReading extends NativeDiscovery {
  timestampMs: number;
  /**
   * The counters as the hardware shows them (not wrap-corrected), in microjoules. For the
   * model: the energy estimated since boot from the CPU times in /proc/stat.
   */
  rawUj: number[];
}

export interface NativeSampler {
  readonly source: SourceKind;
  readonly domains: NativeDomain[];
  readonly warnings: string[];
  start(): void;
  stop(): void;
  close(): void;
  /** Ticks waiting in the ring. */
  pending(): number;
  /**
   * Moves as many ticks out of the ring as `into` holds (at most those waiting) and returns
   * how many, n. They are written column-major: n timestamps (ms since the epoch), then n
   * cumulative energies (uJ since the sampler was opened, wrap-corrected) for each domain.
   */
  drain(into: Float64Array): number;
  /** Declared in lib/stats.ts. */
  stats(): NativeStats;
  /** Now, on the clock of the tick timestamps. */
  nowMs(): number;
  /**
   * Opens the CPU-time thread (native/cputime.h) beside this sampler, on its clock, started
   * and stopped with it. rootCgroup '' means no cgroup rounds.
   */
  openCpuTimes(options: NativeCpuTimesOptions): void;
  /**
   * '' when tracked from the next round on, else the errno name; startTicks for a process.
   * parentSlot: a cgroup's nearest tracked ancestor, tracked before it (-1: none): a cgroup
   * whose parent's usage did not move is not read.
   */
  trackCpu(slot: number, format: 'process' | 'cgroup2' | 'cgroup1', path: string, parentSlot?: number): { error: string; startTicks: number };
  untrackCpu(slot: number): void;
  /** CPU-time records waiting. */
  pendingCpu(): number;
  /**
   * Moves as many CPU-time records as `into` holds (at most those waiting) and returns how
   * many, n, column-major: n timestamps (ms since the epoch), n slots, n values (since the
   * slot's first reading: clock ticks for processes and <procRoot>/stat, ns for cgroups;
   * NaN: the consumer ended). A record with slot -1 (processes) or -2 (cgroups) is the
   * system's busy time and closes a round.
   */
  drainCpu(into: Float64Array): number;
  cpuStats(): NativeCpuStats;
}

export interface NativeCpuTimesOptions {
  procStat: string;
  rootCgroup: string;
  rootCgroupV2: boolean;
  processRateHz: number;
  cgroupRateHz: number;
  /** Records the ring holds. */
  capacity: number;
}

export interface NativeCpuStats {
  rounds: number;
  droppedRounds: number;
  readErrors: number;
  ended: number;
  tracked: number;
}

export interface NativeAddon {
  /** prctl(PR_SET_NO_NEW_PRIVS): once set, nothing executed may gain privileges. */
  noNewPrivileges(): void;
  discover(options: NativeOptions): NativeDiscovery;
  readOnce(options: NativeOptions): NativeReading;
  Sampler: new (options: NativeSamplerOptions) => NativeSampler;
  /** Highest sampling rate the native thread accepts. */
  MAX_RATE_HZ: number;
  /** sysconf(_SC_CLK_TCK): the unit of /proc CPU times. */
  CLOCK_TICKS_PER_SECOND: number;
  /** The option keys the addon reads, from the table that reads them (native/addon.cc). */
  OPTION_KEYS: string[];
  /** The keys of a stats() object, from the table that writes them. */
  STATS_KEYS: string[];
}

/**
 * Errors thrown by the addon carry `code` (an errno name such as EACCES or ENOENT, or
 * one of the WATTMETER_* codes below) and `path` (the file involved), so the TypeScript
 * layer can tell the user what to do.
 */
export type NativeErrorCode =
  | 'EACCES' | 'EPERM' | 'ENOENT' | 'EIO'
  | 'WATTMETER_NO_DOMAINS' | 'WATTMETER_BAD_FILE' | 'WATTMETER_UNSUPPORTED_CPU'
  | 'WATTMETER_PERF_EVENT_DENIED' | 'WATTMETER_NO_NVML';

/** The Node-API version the addon is built for (NAPI_VERSION in binding.gyp and CMakeLists.txt). */
const NAPI_VERSION = 9;

/** The package's root: dist/lib/native.js -> ../.. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What compiling the addon from source needs, for messages. */
export const TOOLCHAIN = 'python3, make and a C++17 compiler (g++ >= 8 or clang >= 5)';

/** Where a prebuilt addon ships: linux-x64 glibc; the rest compile (see scripts/install.js). */
export const PREBUILT_PLATFORMS = 'linux-x64 with glibc >= 2.34';

/** glibc or musl on Linux (a glibc build must never load on musl); undefined elsewhere. */
export function libc(): 'glibc' | 'musl' | undefined {
  if (process.platform !== 'linux') return undefined;
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/**
 * The prebuilt addon for this platform, whether or not it exists: one Node-API binary
 * serves every Node.js version that offers NAPI_VERSION.
 */
export function prebuiltPath(root = PACKAGE_ROOT): string {
  const tags = [`napi${NAPI_VERSION}`, libc()].filter(Boolean).join('.');
  return path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, `wattmeter.${tags}.node`);
}

/**
 * The addon to load, in order: WATTMETER_ADDON (a test or a packager points at another
 * build: it must exist), a local build (developers' and `npm rebuild`'s builds win), then
 * the prebuilt for this platform.
 */
export function addonPath(root = PACKAGE_ROOT, env: Record<string, string | undefined> = process.env): string {
  const override = env.WATTMETER_ADDON;
  if (override) {
    if (existsSync(override)) return override;
    throw new WattmeterError(
      `the native addon named by WATTMETER_ADDON does not exist: looked for ${override}. ` +
        'Point WATTMETER_ADDON at a built wattmeter.node, or unset it to use the package\'s own build ' +
        '(`npm rebuild wattmeter` in your app compiles one).',
      { code: 'WATTMETER_NO_ADDON' },
    );
  }
  const candidates = [path.join(root, 'build', 'Release', 'wattmeter.node'), path.join(root, 'build', 'wattmeter.node')];
  if (Number(process.versions.napi) >= NAPI_VERSION) candidates.push(prebuiltPath(root));
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new WattmeterError(
    `the native addon is not built for ${process.platform}-${process.arch} (${libc()}, Node-API ${process.versions.napi}): ` +
      `looked for ${candidates.join(', ')}. Run \`npm rebuild wattmeter\` in your app to compile it, ` +
      `which needs ${TOOLCHAIN}. A prebuilt addon ships for ${PREBUILT_PLATFORMS} only.`,
    { code: 'WATTMETER_NO_ADDON' },
  );
}

/** Loads an addon file; an error says which file and how to get one that loads. */
function load(file: string): NativeAddon {
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (error) {
    throw new WattmeterError(
      `the native addon ${file} does not load here: ${(error as Error).message.split('\n')[0]}. ` +
        `Run \`npm rebuild wattmeter\` in your app to compile one for this machine, which needs ${TOOLCHAIN}.`,
      { code: 'WATTMETER_BAD_ADDON', cause: error },
    );
  }
}

let loaded: NativeAddon | undefined;

/** Loads the addon on first use, so that importing the package never fails by itself. */
export function addon(): NativeAddon {
  if (process.platform !== 'linux') {
    throw new WattmeterError(`RAPL energy counters are read through Linux interfaces; this is ${process.platform}.`, {
      code: 'WATTMETER_UNSUPPORTED_PLATFORM',
    });
  }
  loaded ??= load(addonPath());
  return loaded;
}
