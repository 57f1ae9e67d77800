// A batch of ticks drained from the ring: columns, not objects, so a drain of a million
// ticks fills one stretch of memory (lib/slab.ts) and makes a handful of objects.
import { concatAttribution } from './attribution/concat.js';
import type { BatchAttribution } from './attribution/types.js';
import type { NativeDomain } from './native.js';

export type Domain = NativeDomain;

export interface Batch {
  readonly domains: readonly Domain[];
  /**
   * Tick times, ms since the epoch with sub-ms precision, rising. This column and the
   * others are views of memory shared with other batches (lib/slab.ts): slice() one to
   * keep it long or transfer it.
   */
  readonly timestampsMs: Float64Array;
  /** One column per domain: cumulative wrap-corrected microjoules since the sampler opened. */
  readonly energyUj: readonly Float64Array[];
  readonly length: number;
  /**
   * Energy attributed to processes and cgroups (an estimate, from CPU time), when the
   * sampler was opened with attribution options: see lib/attribution/types.ts.
   */
  readonly attribution?: BatchAttribution;
}

/** Splits the addon's column-major drain result into views (no copy). */
export function batchFromColumns(domains: readonly Domain[], columns: Float64Array): Batch {
  const length = columns.length / (domains.length + 1);
  const column = (i: number) => columns.subarray(i * length, (i + 1) * length);
  return {
    domains,
    timestampsMs: column(0),
    energyUj: domains.map((_, d) => column(d + 1)),
    length,
  };
}

/** Mean power in watts between ticks `from` and `to` (indices) of one domain's column. */
export function powerWatts(batch: Batch, domain: number, from = 0, to = batch.length - 1): number {
  const dtMs = batch.timestampsMs[to] - batch.timestampsMs[from];
  if (!(dtMs > 0)) return NaN;
  return (batch.energyUj[domain][to] - batch.energyUj[domain][from]) / (dtMs * 1000);
}

/**
 * Mean power of each domain over the last `windowMs` of the batch (the whole batch when
 * it is shorter). NaN for a domain when the batch has fewer than two ticks.
 */
export function windowPowerWatts(batch: Batch, windowMs: number): number[] {
  const last = batch.length - 1;
  let first = last;
  while (first > 0 && batch.timestampsMs[last] - batch.timestampsMs[first - 1] <= windowMs) first--;
  if (first === last && last > 0) first = last - 1;
  return batch.domains.map((_, d) => powerWatts(batch, d, first, last));
}

/** Joins consecutive batches of the same sampler into one (copies, unless there is one). */
export function concatBatches(batches: readonly Batch[]): Batch {
  if (batches.length === 0) throw new Error('concatBatches needs at least one batch');
  if (batches.length === 1) return batches[0];
  const domains = batches[0].domains;
  const join = (pick: (b: Batch) => Float64Array) => {
    const out = new Float64Array(batches.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of batches) {
      out.set(pick(b), at);
      at += b.length;
    }
    return out;
  };
  const attribution = concatAttribution(batches.map((b) => b.attribution));
  return {
    domains,
    timestampsMs: join((b) => b.timestampsMs),
    energyUj: domains.map((_, d) => join((b) => b.energyUj[d])),
    length: batches.reduce((n, b) => n + b.length, 0),
    ...(attribution && { attribution }),
  };
}
