// Shared by the native-*.test.ts files: a fake machine driven by the writer, and the exact
// energy a sampler should report for it.
import type { ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { concatBatches, openSampler, type Batch, type Sampler, type SamplerOptions } from '../../lib/index.js';
import { FakeWriter, removeRoot, tempRoot, type CounterSpec } from './fake-rapl.js';

export { sleep };

/** A temporary root removed when the test ends. */
export function testRoot(t: ExecutionContext): string {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  return root;
}

/** Starts the writer on these counters; stopped when the test ends. */
export async function startWriter(t: ExecutionContext, counters: CounterSpec[]): Promise<FakeWriter> {
  const writer = await FakeWriter.start(counters);
  t.teardown(() => writer.stop());
  return writer;
}

/** Everything in the ring, however many drains it takes. */
export function drainAll(sampler: Sampler): Batch {
  const batches = [sampler.drain()];
  while (batches.at(-1)!.length > 0) batches.push(sampler.drain());
  return concatBatches(batches);
}

export interface Measured {
  sampler: Sampler;
  batch: Batch;
  /** Per domain name: the energy the writer delivered while the sampler ran, in uJ. */
  deliveredUj: Record<string, number>;
  /** Per domain name: the sampler's last cumulative energy, in uJ. */
  measuredUj: Record<string, number>;
}

/**
 * Opens a sampler on frozen counters, lets the writer run for `ms`, freezes them again and
 * lets the sampler read the final values: the sampler's totals must then equal what the
 * writer delivered, to one count of the counter's unit.
 */
export async function measureExactly(
  t: ExecutionContext,
  writer: FakeWriter,
  options: SamplerOptions,
  ms: number,
  during: (sampler: Sampler) => Promise<void> = () => sleep(ms),
): Promise<Measured> {
  await writer.pause();
  const before = await writer.snapshot();
  const sampler = openSampler(options);
  t.teardown(() => sampler.close());
  sampler.start();
  await writer.resume();
  await during(sampler);
  await writer.pause();
  const after = await writer.snapshot();
  // Make room (a tiny ring may be full), then record a few ticks of the frozen values.
  const early = sampler.drain();
  await sleep(100);
  sampler.stop();
  const batch = concatBatches([early, drainAll(sampler)]);
  const deliveredUj: Record<string, number> = {};
  const measuredUj: Record<string, number> = {};
  sampler.domains.forEach((domain, d) => {
    if (after[domain.name]) deliveredUj[domain.name] = (after[domain.name].energyJ - before[domain.name].energyJ) * 1e6;
    measuredUj[domain.name] = batch.energyUj[d][batch.length - 1];
  });
  await writer.resume();
  return { sampler, batch, deliveredUj, measuredUj };
}

/** The counter floors energy to whole counts: the totals agree to one count. */
export function assertEnergy(t: ExecutionContext, m: Measured, name: string, unitUj: number): void {
  const delivered = m.deliveredUj[name];
  const measured = m.measuredUj[name];
  t.true(delivered > 0, `${name}: the writer delivered energy`);
  t.true(Math.abs(measured - delivered) <= unitUj * 1.0001, `${name}: measured ${measured} uJ, delivered ${delivered} uJ`);
}

/** True when `value` is within `fraction` of `want`. */
export function near(value: number, want: number, fraction: number): boolean {
  return Math.abs(value - want) <= Math.abs(want) * fraction;
}
