// EnergyMeter: start, record(tag) at each phase boundary, stop, and get the trace of
// tagged segments. Meters and measure() calls on one sampler share its knot feed, so any
// number of them may run at once without disturbing each other.
import type { Sampler } from '../sampler.js';
import type { SamplerOptions } from '../options.js';
import { knotFeed, type KnotFeed } from './knots.js';
import { samplerFor } from './shared.js';
import type { EnergyHandler, EnergyReport, EnergyTrace } from './report.js';
import { Segment } from './segment.js';

export interface EnergyMeterOptions extends SamplerOptions {
  /** The sampler to read; without one, a sampler shared per options (see measure()). */
  sampler?: Sampler;
  /** Each gets every segment's report, in order, as soon as the segment is settled. */
  handlers?: readonly EnergyHandler[];
  /** Upper bound on the bins of each segment's power timeline (default 1000). */
  timelinePoints?: number;
}

export class EnergyMeter {
  readonly #feed: KnotFeed;
  readonly #handlers: readonly EnergyHandler[];
  readonly #timelinePoints: number | undefined;
  #release: (() => void) | undefined;
  #current: Segment | undefined;
  #reports: Promise<EnergyReport>[] = [];
  #delivered: Promise<void> = Promise.resolve();

  constructor(options: EnergyMeterOptions = {}) {
    const { sampler, handlers = [], timelinePoints, ...samplerOptions } = options;
    this.#feed = knotFeed(samplerFor(sampler, samplerOptions));
    this.#handlers = handlers;
    this.#timelinePoints = timelinePoints;
  }

  get running(): boolean {
    return this.#current !== undefined;
  }

  /** Opens the first segment once the sampler has a fresh reading. */
  async start(tag = 'start'): Promise<this> {
    if (this.#release) throw new Error('wattmeter: this EnergyMeter is already started');
    this.#release = this.#feed.hold();
    try {
      await this.#feed.ready();
    } catch (error) {
      this.#dispose();
      throw error;
    }
    this.#current = new Segment(this.#feed, tag, this.#timelinePoints);
    return this;
  }

  /** Ends the current segment and opens the next, at the same instant. */
  record(tag: string): this {
    const current = this.#open();
    this.#current = new Segment(this.#feed, tag, this.#timelinePoints);
    this.#close(current, this.#current.startMs);
    return this;
  }

  /** Ends the last segment; resolves with every segment's report once all are settled. */
  async stop(): Promise<EnergyTrace> {
    const current = this.#open();
    this.#current = undefined;
    this.#close(current);
    const reports = this.#reports;
    this.#reports = [];
    try {
      const trace = await Promise.all(reports);
      await this.#delivered;
      return trace;
    } finally {
      this.#release?.();
      this.#release = undefined;
    }
  }

  #open(): Segment {
    if (!this.#current) throw new Error('wattmeter: start() the EnergyMeter first');
    return this.#current;
  }

  #close(segment: Segment, endMs?: number): void {
    segment.end(endMs);
    const report = segment.settle();
    this.#reports.push(report);
    this.#delivered = this.#delivered.then(async () => {
      const settled = await report;
      for (const handle of this.#handlers) handle(settled);
    });
  }

  /** Abandons the open segment (no report) and lets the sampler go. */
  #dispose(): void {
    this.#current?.cancel();
    this.#current = undefined;
    this.#release?.();
    this.#release = undefined;
  }

  /** `using meter = ...`: leaves without waiting; the open segment is dropped. */
  [Symbol.dispose](): void {
    this.#dispose();
  }

  /** `await using meter = ...`: stops the meter (its reports go to the handlers). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#current) await this.stop();
    else this.#dispose();
  }
}
