// A sampler made of arithmetic, for testing what the measurement layer does with ticks:
// the energy is an exact function of time, the counter shows it in steps every
// `updateMs` (as RAPL does, about every millisecond), and drain() returns a tick every
// period up to the real clock. No thread, no files, no jitter but the event loop's.
import type { Batch, Domain, Sampler, SamplerStats } from '../../lib/index.js';
import { nowMs } from '../../lib/meter/feed.js';

export interface VirtualDomain {
  name: string;
  /** Power in watts at time t (ms since the epoch). */
  watts: (tMs: number) => number;
}

export interface VirtualSamplerOptions {
  rateHz?: number;
  /** Interval between counter updates (default 1 ms); their phase is random. */
  updateMs?: number;
}

export class VirtualSampler {
  readonly source = 'powercap' as const;
  readonly domains: Domain[];
  readonly rateHz: number;
  readonly updateMs: number;
  closed = false;
  drains = 0;
  #running = false;
  #nextTickMs = NaN;
  #watts: VirtualDomain['watts'][];
  // The counters at the latest update, advanced one update at a time as time passes.
  #originMs: number;
  #integratedMs: number;
  #integratedUj: number[];

  constructor(domains: VirtualDomain[], { rateHz = 10_000, updateMs = 1 }: VirtualSamplerOptions = {}) {
    this.domains = domains.map((d) => ({ name: d.name, source: 'powercap', path: `virtual/${d.name}`, maxEnergyRangeUj: 0 }));
    this.#watts = domains.map((d) => d.watts);
    this.rateHz = rateHz;
    this.updateMs = updateMs;
    this.#originMs = nowMs() - 1000 - Math.random() * updateMs;
    this.#integratedMs = this.#originMs;
    this.#integratedUj = domains.map(() => 0);
  }

  /** The energy delivered between two instants, in joules (integrated in 10 us steps). */
  joules(d: number, fromMs: number, toMs: number): number {
    return this.#integrateUj(d, fromMs, toMs) / 1e6;
  }

  #integrateUj(d: number, fromMs: number, toMs: number): number {
    const stepMs = 0.01;
    let uj = 0;
    for (let t = fromMs; t < toMs - 1e-9; t += stepMs) {
      const dtMs = Math.min(stepMs, toMs - t);
      uj += this.#watts[d](t + dtMs / 2) * dtMs * 1000;
    }
    return uj;
  }

  // Brings the counters to the last update at or before t (ticks come in time order).
  #advanceTo(tMs: number): void {
    while (this.#integratedMs + this.updateMs <= tMs) {
      const from = this.#integratedMs;
      this.#integratedMs += this.updateMs;
      this.#integratedUj = this.#integratedUj.map((uj, d) => uj + this.#integrateUj(d, from, this.#integratedMs));
    }
  }

  start(): this {
    if (!this.#running) this.#nextTickMs = nowMs();
    this.#running = true;
    return this;
  }

  stop(): this {
    this.#running = false;
    return this;
  }

  close(): void {
    this.closed = true;
  }

  drain(): Batch {
    this.drains++;
    const periodMs = 1000 / this.rateHz;
    const times: number[] = [];
    for (const end = nowMs(); this.#running && this.#nextTickMs <= end; this.#nextTickMs += periodMs) times.push(this.#nextTickMs);
    const energyUj = this.domains.map(() => new Float64Array(times.length));
    times.forEach((t, i) => {
      this.#advanceTo(t);
      energyUj.forEach((column, d) => (column[i] = this.#integratedUj[d]));
    });
    return { domains: this.domains, timestampsMs: Float64Array.from(times), energyUj, length: times.length };
  }

  stats(): SamplerStats {
    return { running: this.#running } as SamplerStats;
  }

  /** Typed as the real thing, for the options that take a Sampler. */
  asSampler(): Sampler {
    return this as unknown as Sampler;
  }
}
