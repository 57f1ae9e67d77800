// One-shot discovery and reading, without a sampler thread.
import type { Domain } from './batch.js';
import { explainNativeError } from './errors.js';
import { addon, type SourceKind } from './native.js';
import { optionNames, resolveSourceOptions, type SourceOptions } from './options.js';

export interface Discovery {
  source: SourceKind;
  domains: Domain[];
  warnings: string[];
}

export interface DomainReading extends Domain {
  /** The counter as the hardware shows it (not wrap-corrected), in joules. */
  energyJoules: number;
  energyUj: number;
}

export interface Reading {
  source: SourceKind;
  timestampMs: number;
  domains: DomainReading[];
  warnings: string[];
}

function callNative<T>(options: SourceOptions, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw explainNativeError(error, optionNames(options));
  }
}

/** The energy domains the chosen source offers on this machine. */
export function listDomains(options: SourceOptions = {}): Discovery {
  const resolved = resolveSourceOptions(options);
  return callNative(options, () => addon().discover(resolved));
}

/** One reading of every domain's raw counter. */
export function readOnce(options: SourceOptions = {}): Reading {
  const resolved = resolveSourceOptions(options);
  const raw = callNative(options, () => addon().readOnce(resolved));
  return {
    source: raw.source,
    timestampMs: raw.timestampMs,
    warnings: raw.warnings,
    domains: raw.domains.map((domain, i) => ({
      ...domain,
      energyJoules: raw.rawUj[i] / 1e6,
      energyUj: raw.rawUj[i],
    })),
  };
}
