// Every exporter moves data one way: sampler thread -> ring -> drain (here, on a timer) ->
// the exporter's own state. Scrapes and pushes read that state and never touch the
// sampler, so a flood of scrapes cannot disturb sampling and no scrape does file I/O.
import type { Batch } from '../batch.js';
import type { Sampler, SamplerStats } from '../sampler.js';

export type DrainHandler = (batch: Batch, stats: SamplerStats) => void;

export interface Drainer {
  /** Stops the timer after one last drain, so no recorded tick is left in the ring. */
  stop(): void;
}

/** Starts the sampler if it is not running and drains it every intervalMs. */
export function drainEvery(sampler: Sampler, intervalMs: number, onDrain: DrainHandler): Drainer {
  if (!sampler.stats().running) sampler.start();
  const drain = () => {
    if (!sampler.closed) onDrain(sampler.drain(), sampler.stats());
  };
  const timer = setInterval(drain, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      drain();
    },
  };
}
