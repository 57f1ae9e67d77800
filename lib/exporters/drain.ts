// Every exporter moves data one way: sampler thread -> ring -> feed -> the exporter's own
// state. Scrapes and pushes read that state and never touch the sampler, so a flood of
// scrapes cannot disturb sampling and no scrape does file I/O. The ring has one consumer,
// the sampler's feed, so an exporter and a meter on the same sampler each get every tick.
import { batchFromColumns, concatBatches, type Batch } from '../batch.js';
import { feedFor } from '../feed.js';
import type { Sampler, SamplerStats } from '../sampler.js';

export type DrainHandler = (batch: Batch, stats: SamplerStats) => void;

export interface Drainer {
  /** Stops the timer after one last drain, so no recorded tick is left in the ring. */
  stop(): void;
}

/**
 * Starts the sampler if it is not running and, every intervalMs, hands onDrain every
 * tick since the previous call (an empty batch when there was none).
 */
export function drainEvery(sampler: Sampler, intervalMs: number, onDrain: DrainHandler): Drainer {
  const feed = feedFor(sampler);
  const release = feed.hold();
  let pending: Batch[] = [];
  const unsubscribe = feed.subscribe(({ batch }) => pending.push(batch));
  const drain = () => {
    feed.pump();
    if (sampler.closed) return;
    const batch = pending.length > 0 ? concatBatches(pending) : batchFromColumns(sampler.domains, new Float64Array(0));
    pending = [];
    onDrain(batch, sampler.stats());
  };
  const timer = setInterval(drain, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      drain();
      unsubscribe();
      release();
    },
  };
}
