// Every exporter moves data one way: sampler thread -> ring -> sampler's fan-out -> the
// exporter's own state. Scrapes and pushes read that state and never touch the sampler,
// so a flood of scrapes cannot disturb sampling and no scrape does file I/O.
import type { BatchListener, Sampler } from '../sampler.js';
import type { Render } from '../prometheus/http.js';

export interface Follower {
  /** Hands over the ticks still in the ring, then lets the sampler go. */
  stop(): void;
}

/**
 * Keeps the sampler running (starting it if needed) and hands onBatch every tick, at most
 * maxDelayMs after it was recorded.
 */
export function follow(sampler: Sampler, maxDelayMs: number, onBatch: BatchListener): Follower {
  const unfollow = sampler.follow(onBatch, { maxDelayMs });
  return {
    stop() {
      if (!sampler.closed) sampler.drain();
      unfollow();
    },
  };
}

/** A scraped exporter without its server, so that another server serves it on a path of its own. */
export interface ExporterMetrics {
  render: Render;
  /** Hands over the ticks still in the ring, then lets the sampler go. */
  stop(): void;
}
