// measure(fn): the energy one call used, for sync and async functions alike.
import type { Sampler } from '../sampler.js';
import type { SamplerOptions } from '../options.js';
import { knotFeed } from './knots.js';
import { samplerFor } from './shared.js';
import type { EnergyHandler, EnergyReport } from './report.js';
import { Segment } from './segment.js';

export interface MeasureOptions extends SamplerOptions {
  /**
   * The sampler to read (it is started if it is not running). Without one, every
   * measurement with the same options shares one sampler, opened on first use and
   * stopped a second after the last measurement ends.
   */
  sampler?: Sampler;
  /** The report's tag (default: the function's name, else "measure"). */
  tag?: string;
  /** Each gets the report before measure() resolves. */
  handlers?: readonly EnergyHandler[];
  /** Upper bound on the bins of the power timeline (default 1000). */
  timelinePoints?: number;
}

export interface Measurement<T> {
  result: T;
  energy: EnergyReport;
}

/**
 * Runs `fn` and reports the energy each domain used meanwhile. The whole machine's
 * counters are read: overlapping measurements each see all the energy of their span.
 */
export async function measure<T>(fn: () => T | PromiseLike<T>, options: MeasureOptions = {}): Promise<Measurement<Awaited<T>>> {
  const { sampler, tag, handlers = [], timelinePoints, ...samplerOptions } = options;
  const feed = knotFeed(samplerFor(sampler, samplerOptions));
  const release = feed.hold();
  try {
    await feed.ready();
    const segment = new Segment(feed, tag ?? (fn.name || 'measure'), timelinePoints);
    let result: Awaited<T>;
    try {
      const value = fn();
      // A sync function ends the segment before any await adds a turn of the event loop.
      result = isThenable(value) ? await value : (value as Awaited<T>);
    } catch (error) {
      segment.cancel();
      throw error;
    }
    segment.end();
    const energy = await segment.settle();
    for (const handle of handlers) handle(energy);
    return { result, energy };
  } finally {
    release();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
