// The narrow boundary to the C++ addon (native/addon.cc). Everything that crosses it is
// plain data or one Float64Array per drain: no per-sample JavaScript objects.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
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
  /**
   * Moves up to maxTicks ticks out of the ring. The result is column-major:
   * n timestamps (ms since the epoch), then n cumulative energies (uJ since the sampler
   * was opened, wrap-corrected) for each domain in order. n = length / (1 + domains).
   */
  drain(maxTicks?: number): Float64Array;
  /** Declared in lib/stats.ts. */
  stats(): NativeStats;
  /** Now, on the clock of the tick timestamps. */
  nowMs(): number;
}

export interface NativeAddon {
  /** prctl(PR_SET_NO_NEW_PRIVS): once set, nothing executed may gain privileges. */
  noNewPrivileges(): void;
  discover(options: NativeOptions): NativeDiscovery;
  readOnce(options: NativeOptions): NativeReading;
  Sampler: new (options: NativeSamplerOptions) => NativeSampler;
  /** Highest sampling rate the native thread accepts. */
  MAX_RATE_HZ: number;
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

function addonPath(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidates = [
    process.env.WATTMETER_ADDON, // a test or a packager may point at another build
    path.join(root, 'build', 'Release', 'wattmeter.node'),
    path.join(root, 'build', 'wattmeter.node'),
  ];
  const found = candidates.find((p): p is string => !!p && existsSync(p));
  if (!found) {
    throw new Error(`wattmeter: the native addon is not built (looked in ${root}/build). Run \`npm install\` or \`npm run build\`.`);
  }
  return found;
}

let loaded: NativeAddon | undefined;

/** Loads the addon on first use, so that importing the package never fails by itself. */
export function addon(): NativeAddon {
  if (process.platform !== 'linux') {
    throw new Error(`wattmeter: RAPL energy counters are read through Linux interfaces; this is ${process.platform}.`);
  }
  loaded ??= createRequire(import.meta.url)(addonPath()) as NativeAddon;
  return loaded;
}
