// Every exporter moves data one way: sampler thread -> ring -> sampler's fan-out -> the
// exporter's own state. Scrapes and pushes read that state and never touch the sampler,
// so a flood of scrapes cannot disturb sampling and no scrape does file I/O.
import type { Batch } from '../batch.js';
import type { Sampler } from '../sampler.js';

export interface Follower {
  /** Hands over the ticks still in the ring, then lets the sampler go. */
  stop(): void;
}

/**
 * Keeps the sampler running (starting it if needed) and hands onBatch every tick, at most
 * maxDelayMs after it was recorded.
 */
export function follow(sampler: Sampler, maxDelayMs: number, onBatch: (batch: Batch) => void): Follower {
  const unsubscribe = sampler.subscribe(onBatch, { maxDelayMs }); // checks maxDelayMs first
  const release = sampler.hold();
  return {
    stop() {
      if (!sampler.closed) sampler.drain();
      unsubscribe();
      release();
    },
  };
}
