// One span of time being measured. A segment subscribes to its sampler's feed, follows
// each domain's counter updates (knots) and keeps the cumulative energy on a time grid,
// coarsened as the segment grows, so memory stays bounded however long it runs.
//
// The energy at any instant is interpolated linearly between the knots around it; so a
// boundary between two counter updates gets its share of the update, and a segment is
// settled only once every domain has shown an update after its end (or stood still long
// enough to prove it is idle).
import type { KnotFeed as EnergyFeed, FeedUpdate } from './knots.js';
import type { DomainEnergy, EnergyReport } from './report.js';

/** RAPL updates about every millisecond; no energy counter wattmeter reads is faster. */
const FASTEST_UPDATE_MS = 1;

/** Updates inside a segment that make its own mean interval worth more than the feed's. */
const MIN_UPDATES_TO_REBIN = 10;

/** Default upper bound on the bins of a report's power timeline. */
export const DEFAULT_TIMELINE_POINTS = 1000;

/** One domain's view of the segment. */
class Track {
  // The latest knot seen (the counter's last update), seeded with the feed's.
  prevMs: number;
  prevUj: number;
  beforeUj: number; // the last update at or before the start
  grid: number[] = []; // energy at startMs + i * stepMs
  endUj = NaN;
  afterUj = NaN; // the first update after the end: settled once known
  inside = 0; // updates inside the segment
  firstInsideMs = NaN;
  firstInsideUj = NaN;
  lastInsideMs = NaN;
  lastInsideUj = NaN;

  constructor(knot: { timeMs: number; energyUj: number }) {
    this.prevMs = knot.timeMs;
    this.prevUj = knot.energyUj;
    this.beforeUj = knot.energyUj;
  }

  /** Energy at time t (prevMs < t <= knot): linear between the previous knot and this one. */
  #at(t: number, knotMs: number, knotUj: number): number {
    if (Number.isNaN(this.prevMs)) return knotUj; // nothing read before: the first value stands
    return this.prevUj + ((knotUj - this.prevUj) * (t - this.prevMs)) / (knotMs - this.prevMs);
  }

  add(knotMs: number, knotUj: number, startMs: number, endMs: number, stepMs: number): void {
    if (!Number.isNaN(this.afterUj)) return;
    if (knotMs > startMs) {
      for (let g = startMs + this.grid.length * stepMs; g <= knotMs && (g < endMs || this.grid.length === 0); g += stepMs) {
        this.grid.push(this.#at(g, knotMs, knotUj));
      }
      if (knotMs >= endMs) {
        this.endUj = this.#at(endMs, knotMs, knotUj);
        this.afterUj = knotUj;
        return;
      }
      if (this.inside++ === 0) {
        this.firstInsideMs = knotMs;
        this.firstInsideUj = knotUj;
      }
      this.lastInsideMs = knotMs;
      this.lastInsideUj = knotUj;
    } else {
      this.beforeUj = knotUj;
    }
    this.prevMs = knotMs;
    this.prevUj = knotUj;
  }

  /** No update after the end, but the counter stood still long enough: it is idle. */
  settleIdle(startMs: number, endMs: number, stepMs: number): void {
    for (let g = startMs + this.grid.length * stepMs; g < endMs || this.grid.length === 0; g += stepMs) this.grid.push(this.prevUj);
    this.endUj = this.afterUj = this.prevUj;
  }

  get settled(): boolean {
    return !Number.isNaN(this.afterUj);
  }

  /** Keeps every k-th grid point: the grid's step grows k times. */
  coarsen(k: number): void {
    this.grid = this.grid.filter((_, i) => i % k === 0);
  }

  /** The mean interval between the updates inside the segment (NaN under two). */
  get insideIntervalMs(): number {
    return this.inside >= 2 ? (this.lastInsideMs - this.firstInsideMs) / (this.inside - 1) : NaN;
  }
}

export class Segment {
  readonly tag: string;
  readonly startMs: number;
  #endMs = Infinity;
  #stepMs: number;
  #maxPoints: number;
  #feed: EnergyFeed;
  #tracks: Track[];
  #gapsMs: (readonly [number, number])[] = [];
  #unsubscribe: () => void;

  /** Opens a segment now. Every tick up to now is drained first, so the seeds are current. */
  constructor(feed: EnergyFeed, tag: string, maxPoints = DEFAULT_TIMELINE_POINTS) {
    if (!(maxPoints >= 1)) throw new RangeError(`timelinePoints must be at least 1; got ${maxPoints}`);
    feed.pump();
    this.tag = tag;
    this.#feed = feed;
    this.#maxPoints = maxPoints;
    this.#tracks = feed.sampler.domains.map((_, d) => new Track(feed.lastKnot(d)));
    // Each update's time is known to one tick, so a bin must span many updates for its
    // watts to mean something: ten keep that error near 10 % at worst. No energy counter
    // updates faster than RAPL's millisecond, so a shorter (or unknown) interval is an
    // artefact of a stalled machine, not a reason for narrower bins.
    const intervals = this.#tracks.map((_, d) => feed.updateIntervalMs(d)).filter((ms) => !Number.isNaN(ms));
    this.#stepMs = 10 * Math.max(feed.periodMs, FASTEST_UPDATE_MS, ...intervals);
    this.#unsubscribe = feed.subscribe((update) => this.#add(update));
    // Last, so the set-up above is not measured; later ticks before it are still welcome.
    this.startMs = feed.nowMs();
  }

  #add(update: FeedUpdate): void {
    for (const gap of update.gapsMs) if (gap[1] > this.startMs && gap[0] < this.#endMs) this.#gapsMs.push(gap);
    update.knots.forEach((knots, d) => {
      for (let i = 0; i < knots.timesMs.length; i++) {
        this.#tracks[d].add(knots.timesMs[i], knots.energyUj[i], this.startMs, this.#endMs, this.#stepMs);
      }
    });
    this.#fitGrid();
  }

  #fitGrid(): void {
    while (Math.max(...this.#tracks.map((t) => t.grid.length)) > this.#maxPoints) this.#coarsen(2);
  }

  #coarsen(k: number): void {
    this.#stepMs *= k;
    for (const track of this.#tracks) track.coarsen(k);
  }

  // The bins were sized at the start from the intervals known then, which a fresh sampler
  // on a loaded machine may not have shown yet (10 ms bins for a 4 ms counter). The
  // updates seen inside a long enough segment say better: widen the bins by a whole
  // factor until they hold eight updates at least (so 8 to 16, about ten).
  #fitBinsToUpdates(): void {
    const intervals = this.#tracks.filter((t) => t.inside >= MIN_UPDATES_TO_REBIN).map((t) => t.insideIntervalMs);
    const k = Math.ceil((8 * Math.max(0, ...intervals)) / this.#stepMs);
    if (k >= 2) this.#coarsen(k);
  }

  /** Closes the segment at `endMs` (now by default); settle() then waits for the data. */
  end(endMs = this.#feed.nowMs()): void {
    this.#endMs = endMs;
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
    this.#tracks.forEach((track, d) => {
      if (!track.settled && this.#feed.lastTickMs - this.#endMs > this.#quietMs(d)) this.#settleIdle(track);
    });
    return this.#tracks.every((track) => track.settled);
  }

  #settleIdle(track: Track): void {
    track.settleIdle(this.startMs, this.#endMs, this.#stepMs);
    this.#fitGrid();
  }

  /** Waits until every domain's counter has been read past the end, then reports. */
  async settle(): Promise<EnergyReport> {
    if (this.#endMs === Infinity) throw new Error('wattmeter: end() the segment before settling it');
    const timeoutMs = Math.max(...this.#tracks.map((_, d) => this.#quietMs(d))) + 1000;
    const settled = await this.#feed.until(() => this.#settled(), timeoutMs);
    this.#unsubscribe();
    const warnings: string[] = [];
    if (!settled) {
      warnings.push('The sampler gave no reading after the segment ended (stopped or closed?): the last values read stand for its end.');
      for (const track of this.#tracks) if (!track.settled) this.#settleIdle(track);
    }
    this.#fitBinsToUpdates();
    return this.#report(warnings);
  }

  #report(warnings: string[]): EnergyReport {
    const { startMs, tag } = this;
    const endMs = this.#endMs;
    const durationMs = endMs - startMs;
    const stepMs = this.#stepMs;
    const names = this.#feed.sampler.domains.map((d) => d.name);
    // Bin edges: the grid, then the end; a last sliver under half a step joins the bin
    // before it, so a tiny bin cannot fake a peak.
    let bins = Math.max(1, Math.ceil(durationMs / stepMs));
    if (bins > 1 && endMs - (startMs + (bins - 1) * stepMs) < stepMs / 2) bins--;
    const timestampsMs = Float64Array.from({ length: bins }, (_, i) => startMs + i * stepMs);
    const timeline = { stepMs, timestampsMs, watts: {} as Record<string, Float64Array> };
    const domains: Record<string, DomainEnergy> = {};
    const unresolved: string[] = [];

    this.#tracks.forEach((track, d) => {
      const edgeUj = (i: number) => (i < bins ? track.grid[i] : track.endUj);
      const edgeMs = (i: number) => (i < bins ? timestampsMs[i] : endMs);
      const watts = Float64Array.from({ length: bins }, (_, i) => (edgeUj(i + 1) - edgeUj(i)) / ((edgeMs(i + 1) - edgeMs(i)) * 1000));
      timeline.watts[names[d]] = watts;
      const joules = (track.endUj - track.grid[0]) / 1e6;
      const updateIntervalMs = track.inside >= 2 ? track.insideIntervalMs : this.#feed.updateIntervalMs(d);
      domains[names[d]] = {
        joules,
        watts: joules / (durationMs / 1000),
        peakWatts: watts.reduce((a, b) => Math.max(a, b), -Infinity),
        minJoules: track.inside >= 2 ? (track.lastInsideUj - track.firstInsideUj) / 1e6 : 0,
        maxJoules: (track.afterUj - track.beforeUj) / 1e6,
        resolved: track.inside > 0 || joules === 0,
        updateIntervalMs,
      };
      if (track.inside === 0 && joules !== 0) unresolved.push(`${names[d]} (~${updateIntervalMs.toFixed(2)} ms)`);
      if (Number.isNaN(track.beforeUj)) {
        warnings.push(`${names[d]}: no reading before the segment began; the energy before the first one is missing.`);
      }
    });

    if (unresolved.length > 0) {
      warnings.push(
        `The segment (${durationMs.toFixed(3)} ms) is shorter than the counters' update interval of ${unresolved.join(', ')}: ` +
          'no update fell inside it, so its energy is the power around it times its duration (see minJoules/maxJoules).',
      );
    }
    for (const [from, to] of this.#gapsMs) {
      warnings.push(
        `No tick for ${(to - from).toFixed(1)} ms, from ${(from - startMs).toFixed(1)} ms into the segment ` +
          '(the ring was full or the sampler late): the energy there is interpolated and the timeline flat.',
      );
    }
    const source = this.#feed.sampler.source;
    if (source === 'model') warnings.push('Source "model": an estimate from CPU utilisation, not a measurement.');
    return { tag, source, startMs, endMs, durationMs, domains, timeline, warnings };
  }
}
