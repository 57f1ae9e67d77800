// The samplers of measure() and EnergyMeter called with options instead of a sampler:
// every measurement asking for the same options shares one, opened on first use and never
// closed (its knot feed stops it when idle; its thread ends with the process).
import { openSampler, type Sampler } from '../sampler.js';
import type { SamplerOptions } from '../options.js';

const shared = new Map<string, Sampler>();

export function samplerFor(from: Sampler | undefined, options: SamplerOptions): Sampler {
  if (from) return from;
  const key = JSON.stringify(Object.entries(options).sort());
  let sampler = shared.get(key);
  if (!sampler || sampler.closed) shared.set(key, (sampler = openSampler(options)));
  return sampler;
}
