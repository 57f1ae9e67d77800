// Latency from a sample's timestamp to being queryable: poll Prometheus's API and note,
// for every sample that appears, how long after its timestamp the answer holding it came
// back. The poll period bounds the error (on average it adds half of it). Polling goes on
// past its duration until a sample has appeared: on a busy machine every scrape of a
// short span can fail (Prometheus retries at the next interval), and a latency is due
// for every strategy.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackPrometheus } from '../../fixtures/stack-prometheus.js';

export const POLL_MS = 100;
/** How long polling goes on past its duration, at most, for a first sample. */
export const FIRST_SAMPLE_GRACE_MS = 30_000;

/** Latencies (ms) of the samples of `selector` (one series) that appear within durationMs, or until the first does. */
export async function pollLatency(store: StackPrometheus, selector: string, durationMs: number): Promise<number[]> {
  const start = Date.now();
  // Only samples that appear from now on count: start after the newest already stored.
  const stored = await store.points(selector, start - 600_000, start);
  let newestMs = stored.at(-1)?.[0] ?? start - 600_000;
  const latencies: number[] = [];
  while (Date.now() - start < (latencies.length > 0 ? durationMs : durationMs + FIRST_SAMPLE_GRACE_MS)) {
    await sleep(POLL_MS);
    const points = await store.points(selector, newestMs, Date.now());
    const answeredMs = Date.now();
    for (const [ms] of points) latencies.push(answeredMs - ms);
    newestMs = points.at(-1)?.[0] ?? newestMs;
  }
  return latencies;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
