// Options, their defaults, their environment variables and their validation, in one place
// so the API, the CLI and the examples agree.
import { existsSync } from 'node:fs';
import { usageError } from './errors.js';
import type { NativeOptions, NativeSamplerOptions } from './native.js';

export type SourceOption = NativeOptions['source'];
export type CpuVendorOption = NativeOptions['cpuVendor'];

export interface SourceOptions {
  /** auto (default): powercap, else perf_event (where the kernel has the power PMU), else msr, else model. */
  source?: SourceOption;
  /** Root of sysfs (default /sys); powercap zones are under <sysfsRoot>/class/powercap. */
  sysfsRoot?: string;
  /** Root of procfs (default /proc): stat and cpuinfo. */
  procRoot?: string;
  /** MSR device template, %d is the CPU number (default /dev/cpu/%d/msr). */
  msrPath?: string;
  cpuVendor?: CpuVendorOption;
  /** Also report intel-rapl-mmio zones, which duplicate the package zone. */
  includeMmio?: boolean;
  /** The model source: package watts at 0 % and 100 % CPU utilisation. */
  modelIdleWatts?: number;
  modelMaxWatts?: number;
  /** Also one domain per NVIDIA GPU (gpu-0...), from NVML's total energy (Volta and newer). */
  gpu?: boolean;
  /** The NVML library to load (default libnvidia-ml.so.1, found by the dynamic loader). */
  nvmlLibrary?: string;
}

export interface SamplerOptions extends SourceOptions {
  /** Ticks per second, MIN_RATE_HZ to MAX_RATE_HZ (default 1000). */
  rateHz?: number;
  /** Ticks the ring buffer holds (default: 10 s at rateHz, at least 1024). */
  bufferCapacity?: number;
  /** Ask for SCHED_FIFO; refused quietly (noted in stats) without the right. */
  realtime?: boolean;
  /**
   * Once the counters are open, switch the process to this user (name or uid): start as
   * root to open root-only counters, then run unprivileged.
   */
  user?: string;
}

export const MIN_RATE_HZ = 1;
export const MAX_RATE_HZ = 100_000;
export const DEFAULT_RATE_HZ = 1000;
export const BUFFER_SECONDS = 10;

const SOURCES = ['auto', 'powercap', 'perf_event', 'msr', 'model'] as const;
const VENDORS = ['auto', 'intel', 'amd'] as const;

/** Environment variable for each option, read by the CLI and the examples. */
export const ENV = {
  source: 'WATTMETER_SOURCE',
  sysfsRoot: 'WATTMETER_SYSFS_ROOT',
  procRoot: 'WATTMETER_PROC_ROOT',
  msrPath: 'WATTMETER_MSR_PATH',
  cpuVendor: 'WATTMETER_CPU_VENDOR',
  includeMmio: 'WATTMETER_INCLUDE_MMIO',
  modelIdleWatts: 'WATTMETER_MODEL_IDLE_WATTS',
  modelMaxWatts: 'WATTMETER_MODEL_MAX_WATTS',
  gpu: 'WATTMETER_GPU',
  nvmlLibrary: 'WATTMETER_NVML_LIBRARY',
  rateHz: 'WATTMETER_RATE_HZ',
  bufferCapacity: 'WATTMETER_BUFFER_CAPACITY',
  realtime: 'WATTMETER_REALTIME',
  user: 'WATTMETER_USER',
} as const satisfies Record<keyof SamplerOptions, string>;

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usageError(`${name} must be one of ${allowed.join(', ')}; got "${value}".`);
}

export function parseNumber(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw usageError(`${name} must be a number; got "${text}".`);
  if (value < min || value > max) throw usageError(`${name} must be between ${min} and ${max}; got ${text}.`);
  return value;
}

function parseBoolean(text: string, name: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off|)$/i.test(text)) return false;
  throw usageError(`${name} must be true or false; got "${text}".`);
}

/**
 * Reads the options from the environment (or any string map, such as parsed flags):
 * `names` says which variable or flag name to mention in an error.
 */
export function parseOptions(
  values: Partial<Record<keyof SamplerOptions, string | undefined>>,
  names: Partial<Record<keyof SamplerOptions, string>> = ENV,
): SamplerOptions {
  const options: SamplerOptions = {};
  const name = (key: keyof SamplerOptions) => names[key] ?? ENV[key];
  const v = values;
  if (v.source !== undefined) options.source = oneOf(v.source, SOURCES, name('source'));
  if (v.sysfsRoot !== undefined) options.sysfsRoot = v.sysfsRoot;
  if (v.procRoot !== undefined) options.procRoot = v.procRoot;
  if (v.msrPath !== undefined) options.msrPath = v.msrPath;
  if (v.cpuVendor !== undefined) options.cpuVendor = oneOf(v.cpuVendor, VENDORS, name('cpuVendor'));
  if (v.includeMmio !== undefined) options.includeMmio = parseBoolean(v.includeMmio, name('includeMmio'));
  if (v.modelIdleWatts !== undefined) options.modelIdleWatts = parseNumber(v.modelIdleWatts, name('modelIdleWatts'), 0, 1e6);
  if (v.modelMaxWatts !== undefined) options.modelMaxWatts = parseNumber(v.modelMaxWatts, name('modelMaxWatts'), 0, 1e6);
  if (v.gpu !== undefined) options.gpu = parseBoolean(v.gpu, name('gpu'));
  if (v.nvmlLibrary) options.nvmlLibrary = v.nvmlLibrary;
  if (v.rateHz !== undefined) options.rateHz = parseNumber(v.rateHz, name('rateHz'), MIN_RATE_HZ, MAX_RATE_HZ);
  if (v.bufferCapacity !== undefined) options.bufferCapacity = parseNumber(v.bufferCapacity, name('bufferCapacity'), 2, 1e9);
  if (v.realtime !== undefined) options.realtime = parseBoolean(v.realtime, name('realtime'));
  if (v.user) options.user = v.user;
  return options;
}

/** The options set in the environment (WATTMETER_*). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): SamplerOptions {
  const values: Partial<Record<keyof SamplerOptions, string>> = {};
  for (const [key, variable] of Object.entries(ENV) as [keyof SamplerOptions, string][]) {
    if (env[variable] !== undefined) values[key] = env[variable];
  }
  return parseOptions(values);
}

/** Fills defaults and checks what the native layer cannot check as clearly. */
export function resolveSourceOptions(options: SourceOptions = {}): NativeOptions {
  const resolved: NativeOptions = {
    source: options.source ?? 'auto',
    sysfsRoot: options.sysfsRoot ?? '/sys',
    procRoot: options.procRoot ?? '/proc',
    msrPath: options.msrPath ?? '/dev/cpu/%d/msr',
    cpuVendor: options.cpuVendor ?? 'auto',
    includeMmio: options.includeMmio ?? false,
    modelIdleWatts: options.modelIdleWatts ?? 10,
    modelMaxWatts: options.modelMaxWatts ?? 65,
    gpu: options.gpu ?? false,
    nvmlLibrary: options.nvmlLibrary ?? 'libnvidia-ml.so.1',
  };
  oneOf(resolved.source, SOURCES, 'source');
  oneOf(resolved.cpuVendor, VENDORS, 'cpuVendor');
  const roots = [
    ['sysfsRoot', '--sysfs-root', 'the directory that holds class/powercap and devices/system/cpu'],
    ['procRoot', '--proc-root', 'the directory that holds stat and cpuinfo'],
  ] as const;
  for (const [key, flag, what] of roots) {
    if (!existsSync(resolved[key])) {
      throw usageError(`${resolved[key]} does not exist (${flag} / ${ENV[key]}): point it at ${what}.`);
    }
  }
  if ((resolved.msrPath.match(/%d/g) ?? []).length !== 1) {
    throw usageError(`msrPath must contain %d once, for the CPU number; got "${resolved.msrPath}".`);
  }
  if (resolved.modelMaxWatts < resolved.modelIdleWatts) {
    throw usageError(`modelMaxWatts (${resolved.modelMaxWatts}) must not be below modelIdleWatts (${resolved.modelIdleWatts}).`);
  }
  return resolved;
}

export function resolveSamplerOptions(options: SamplerOptions = {}): NativeSamplerOptions {
  const rateHz = options.rateHz ?? DEFAULT_RATE_HZ;
  if (!Number.isFinite(rateHz) || rateHz < MIN_RATE_HZ || rateHz > MAX_RATE_HZ) {
    throw usageError(`rateHz must be between ${MIN_RATE_HZ} and ${MAX_RATE_HZ}; got ${rateHz}.`);
  }
  const capacity = Math.ceil(options.bufferCapacity ?? Math.max(1024, rateHz * BUFFER_SECONDS));
  if (!(capacity >= 2)) throw usageError(`bufferCapacity must be at least 2 ticks; got ${options.bufferCapacity}.`);
  return { ...resolveSourceOptions(options), rateHz, capacity, realtime: options.realtime ?? false };
}
