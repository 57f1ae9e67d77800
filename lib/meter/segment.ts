// One span of time being measured, as it happens: a segment follows its sampler's feed
// from now until it ends and every domain has been read past the end (or stood still
// long enough to prove it is idle). The arithmetic is EnergySpan's (span.ts); this file
// only reads the clock and waits.
import type { SourceKind } from '../native.js';
import type { EnergyReport } from './report.js';
import { EnergySpan, type Knot, type KnotUpdate } from './span.js';

/** What a segment needs of its sampler's feed. */
export interface SegmentFeed {
  readonly periodMs: number;
  /** The latest tick's time (NaN before the first). */
  readonly lastTickMs: number;
  readonly sampler: {
    readonly domains: readonly { readonly name: string }[];
    readonly source: SourceKind;
    readonly attribution?: { totals(kind: 'process'): { readonly domains: readonly string[] } | undefined };
  };
  /** Now, on the clock the ticks are stamped with. */
  nowMs(): number;
  /** Domain d's latest counter update. */
  lastKnot(d: number): Knot;
  /** Whether this process's attributed energy is in the updates (the sampler's `self` option). */
  readonly attributesSelf?: boolean;
  /** Domain d's latest knot of this process's attributed energy (NaN when none). */
  lastSelfKnot?(d: number): Knot;
  /** Mean interval between domain d's counter updates seen lately (NaN until known). */
  updateIntervalMs(d: number): number;
  /** Calls the listener with every drain; returns the unsubscribe. */
  subscribe(listener: (update: KnotUpdate) => void): () => void;
  /** Drains the ticks now. */
  pump(): void;
  /** Pumps until done() holds (true) or timeoutMs passes (false). */
  until(done: () => boolean, timeoutMs: number): Promise<boolean>;
}

/** RAPL updates about every millisecond; no energy counter wattmeter reads is faster. */
const FASTEST_UPDATE_MS = 1;

/** Default upper bound on the bins of a report's power timeline. */
export const DEFAULT_TIMELINE_POINTS = 1000;

export class Segment {
  readonly #feed: SegmentFeed;
  readonly #span: EnergySpan;
  readonly #unsubscribe: () => void;

  /** Opens a segment now. Every tick up to now is drained first, so the seeds are current. */
  constructor(feed: SegmentFeed, tag: string, maxPoints = DEFAULT_TIMELINE_POINTS) {
    feed.pump();
    this.#feed = feed;
    const { domains, source } = feed.sampler;
    // Each update's time is known to one tick, so a bin must span many updates for its
    // watts to mean something: ten keep that error near 10 % at worst. No energy counter
    // updates faster than RAPL's millisecond, so a shorter (or unknown) interval is an
    // artefact of a stalled machine, not a reason for narrower bins.
    const intervals = domains.map((_, d) => feed.updateIntervalMs(d)).filter((ms) => !Number.isNaN(ms));
    const stepMs = 10 * Math.max(feed.periodMs, FASTEST_UPDATE_MS, ...intervals);
    const seeds = domains.map((_, d) => feed.lastKnot(d));
    const names = domains.map((d) => d.name);
    // The start is read last, so the set-up above is not measured; later ticks before it
    // are still welcome.
    const attributed = new Set(feed.sampler.attribution?.totals('process')?.domains);
    const selfSeeds = feed.attributesSelf ? domains.map((d, i) => (attributed.has(d.name) ? feed.lastSelfKnot!(i) : undefined)) : undefined;
    this.#span = new EnergySpan({ tag, source, names, seeds, stepMs, maxPoints, selfSeeds, startMs: feed.nowMs() });
    this.#unsubscribe = feed.subscribe((update) => this.#span.add(update));
  }

  get tag(): string {
    return this.#span.tag;
  }

  get startMs(): number {
    return this.#span.startMs;
  }

  /** Closes the segment at `endMs` (now by default); settle() then waits for the data. */
  end(endMs = this.#feed.nowMs()): void {
    this.#span.end(endMs);
  }

  /** Stops following the feed without a report. */
  cancel(): void {
    this.#unsubscribe();
  }

  // How long a domain's counter must stand still after the end to count as idle.
  #quietMs(d: number): number {
    const interval = this.#feed.updateIntervalMs(d);
    return 3 * Math.max(this.#feed.periodMs, Number.isNaN(interval) ? 0 : interval) + 1;
  }

  #settled(): boolean {
    const { lastTickMs } = this.#feed;
    // Every domain is looked at, not only up to the first unsettled one.
    const settled = this.#span.names.map((_, d) => this.#span.settleIfIdle(d, lastTickMs, this.#quietMs(d)));
    return settled.every(Boolean) && this.#span.shareSettled;
  }

  /** Waits until every domain's counter has been read past the end, then reports. */
  async settle(): Promise<EnergyReport> {
    if (this.#span.endMs === Infinity) throw new Error('wattmeter: end() the segment before settling it');
    const names = this.#span.names;
    const timeoutMs = Math.max(...names.map((_, d) => this.#quietMs(d))) + 1000;
    await this.#feed.until(() => this.#settled(), timeoutMs);
    this.#unsubscribe();
    return this.#span.report(names.map((_, d) => this.#feed.updateIntervalMs(d)));
  }
}
