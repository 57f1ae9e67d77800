// The arithmetic of one measured span of time, apart from any clock or feed: it is given
// each domain's counter updates (knots) and the gaps in the ticks, its end, and word of
// idle domains, and turns them into an EnergyReport. Segment (segment.ts) does the waiting.
//
// The energy at any instant is interpolated linearly between the knots around it; so a
// boundary between two counter updates gets its share of the update. The cumulative
// energy is kept on a time grid, coarsened as the span grows, so memory stays bounded
// however long it runs.
import type { SourceKind } from '../native.js';
import type { DomainEnergy, EnergyReport } from './report.js';

/** One domain's counter updates from one drain: when, and the value reached. */
export interface Knots {
  readonly timesMs: Float64Array;
  readonly energyUj: Float64Array;
}

/** What the span is fed: knots per domain, and spans of time with no tick at all. */
export interface KnotUpdate {
  readonly knots: readonly Knots[];
  readonly gapsMs: readonly (readonly [number, number])[];
  /**
   * Per domain, the calling process's attributed energy at each CPU-time round (undefined:
   * not attributed); absent when the sampler does not attribute to it.
   */
  readonly self?: readonly (Knots | undefined)[];
}

/** A domain's latest counter update (NaN for both when it has none). */
export interface Knot {
  readonly timeMs: number;
  readonly energyUj: number;
}

export interface EnergySpanInit {
  tag: string;
  source: SourceKind;
  /** Domain names, in the order of the knots. */
  names: readonly string[];
  startMs: number;
  /** Per domain, its last counter update at or before the start. */
  seeds: readonly Knot[];
  /** The timeline's first bin width; doubled as often as maxPoints asks. */
  stepMs: number;
  /** Upper bound on the grid points (and so on the timeline's bins). */
  maxPoints: number;
  /**
   * Per domain, the last knot of the calling process's attributed energy at or before the
   * start (undefined: that domain is not attributed to it). Absent: no process share.
   */
  selfSeeds?: readonly (Knot | undefined)[];
}

/** CPU-time rounds inside a span below which its process share is called coarse. */
const MIN_ROUNDS_FOR_SHARE = 10;

/**
 * One domain's attributed energy of the calling process over the span: its cumulative
 * value interpolated linearly at the start and at the end between the CPU-time rounds
 * around them.
 */
class ShareTrack {
  prevMs: number;
  prevUj: number;
  startUj = NaN;
  endUj = NaN;
  inside = 0; // rounds inside the span

  constructor(seed: Knot) {
    this.prevMs = seed.timeMs;
    this.prevUj = seed.energyUj;
  }

  #at(t: number, knotMs: number, knotUj: number): number {
    if (Number.isNaN(this.prevMs) || !(knotMs > this.prevMs)) return knotUj;
    return this.prevUj + ((knotUj - this.prevUj) * (t - this.prevMs)) / (knotMs - this.prevMs);
  }

  add(knotMs: number, knotUj: number, startMs: number, endMs: number): void {
    if (this.settled || knotMs <= this.prevMs) return;
    if (knotMs >= startMs && Number.isNaN(this.startUj)) this.startUj = this.#at(startMs, knotMs, knotUj);
    if (knotMs >= endMs) {
      this.endUj = this.#at(endMs, knotMs, knotUj);
      return;
    }
    if (knotMs > startMs) this.inside++;
    this.prevMs = knotMs;
    this.prevUj = knotUj;
  }

  get settled(): boolean {
    return !Number.isNaN(this.endUj);
  }
}

/** Updates inside a span that make its own mean interval worth more than the feed's. */
const MIN_UPDATES_TO_REBIN = 10;

/** One domain's view of the span. */
class Track {
  // The latest knot seen (the counter's last update), seeded with the one before the start.
  prevMs: number;
  prevUj: number;
  beforeUj: number; // the last update at or before the start
  grid: number[] = []; // energy at startMs + i * stepMs
  endUj = NaN;
  afterUj = NaN; // the first update after the end: settled once known
  inside = 0; // updates inside the span
  firstInsideMs = NaN;
  firstInsideUj = NaN;
  lastInsideMs = NaN;
  lastInsideUj = NaN;

  constructor(knot: Knot) {
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

  /** The mean interval between the updates inside the span (NaN under two). */
  get insideIntervalMs(): number {
    return this.inside >= 2 ? (this.lastInsideMs - this.firstInsideMs) / (this.inside - 1) : NaN;
  }
}

export class EnergySpan {
  readonly tag: string;
  readonly source: SourceKind;
  readonly names: readonly string[];
  readonly startMs: number;
  #endMs = Infinity;
  #stepMs: number;
  #maxPoints: number;
  #tracks: Track[];
  #gapsMs: (readonly [number, number])[] = [];
  #shares: (ShareTrack | undefined)[] | undefined;

  constructor(init: EnergySpanInit) {
    if (!(init.maxPoints >= 1)) throw new RangeError(`timelinePoints must be at least 1; got ${init.maxPoints}`);
    this.tag = init.tag;
    this.source = init.source;
    this.names = init.names;
    this.startMs = init.startMs;
    this.#stepMs = init.stepMs;
    this.#maxPoints = init.maxPoints;
    this.#tracks = init.seeds.map((seed) => new Track(seed));
    this.#shares = init.selfSeeds?.map((seed) => seed && new ShareTrack(seed));
  }

  get endMs(): number {
    return this.#endMs;
  }

  /** Closes the span at endMs; knots after it settle the domains. */
  end(endMs: number): void {
    this.#endMs = endMs;
  }

  add(update: KnotUpdate): void {
    for (const gap of update.gapsMs) if (gap[1] > this.startMs && gap[0] < this.#endMs) this.#gapsMs.push(gap);
    update.knots.forEach((knots, d) => {
      for (let i = 0; i < knots.timesMs.length; i++) {
        this.#tracks[d].add(knots.timesMs[i], knots.energyUj[i], this.startMs, this.#endMs, this.#stepMs);
      }
    });
    update.self?.forEach((knots, d) => {
      const share = this.#shares?.[d];
      for (let i = 0; share && knots && i < knots.timesMs.length; i++) share.add(knots.timesMs[i], knots.energyUj[i], this.startMs, this.#endMs);
    });
    this.#fitGrid();
  }

  /** Whether the process share (if any) has a CPU-time round after the end. */
  get shareSettled(): boolean {
    return this.#shares?.every((share) => !share || share.settled) ?? true;
  }

  /** Whether every domain has been read past the end (or found idle). */
  get settled(): boolean {
    return this.#tracks.every((track) => track.settled);
  }

  /**
   * Settles domain d as idle when the ticks went on for more than quietMs past the end
   * without an update of its counter; returns whether d is settled.
   */
  settleIfIdle(d: number, lastTickMs: number, quietMs: number): boolean {
    const track = this.#tracks[d];
    if (!track.settled && lastTickMs - this.#endMs > quietMs) this.#settleIdle(track);
    return track.settled;
  }

  #settleIdle(track: Track): void {
    track.settleIdle(this.startMs, this.#endMs, this.#stepMs);
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
  // updates seen inside a long enough span say better: widen the bins by a whole factor
  // until they hold eight updates at least (so 8 to 16, about ten).
  #fitBinsToUpdates(): void {
    const intervals = this.#tracks.filter((t) => t.inside >= MIN_UPDATES_TO_REBIN).map((t) => t.insideIntervalMs);
    const k = Math.ceil((8 * Math.max(0, ...intervals)) / this.#stepMs);
    if (k >= 2) this.#coarsen(k);
  }

  /**
   * The report, once ended. A domain not settled yet (no reading after the end) is
   * settled at its last value, with a warning. `updateIntervalsMs`: per domain, the
   * update interval to report where fewer than two updates fell inside the span.
   */
  report(updateIntervalsMs: readonly number[]): EnergyReport {
    const warnings: string[] = [];
    if (!this.settled) {
      warnings.push('The sampler gave no reading after the segment ended (stopped or closed?): the last values read stand for its end.');
      for (const track of this.#tracks) if (!track.settled) this.#settleIdle(track);
    }
    this.#fitBinsToUpdates();

    const { startMs, tag, names, source } = this;
    const endMs = this.#endMs;
    const durationMs = endMs - startMs;
    const stepMs = this.#stepMs;
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
      const updateIntervalMs = track.inside >= 2 ? track.insideIntervalMs : updateIntervalsMs[d];
      // Shorter than the update interval, one update inside proves no more than none: it
      // says when the counter moved, not how the energy it carries fell within the segment.
      const resolved = joules === 0 || (track.inside > 0 && !(durationMs < updateIntervalMs));
      domains[names[d]] = {
        joules,
        watts: joules / (durationMs / 1000),
        peakWatts: watts.reduce((a, b) => Math.max(a, b), -Infinity),
        minJoules: track.inside >= 2 ? (track.lastInsideUj - track.firstInsideUj) / 1e6 : 0,
        maxJoules: (track.afterUj - track.beforeUj) / 1e6,
        resolved,
        updateIntervalMs,
      };
      const share = this.#shares?.[d];
      if (share?.settled) domains[names[d]].processJoules = (share.endUj - share.startUj) / 1e6;
      if (!resolved) unresolved.push(`${names[d]} (~${updateIntervalMs.toFixed(2)} ms)`);
      if (Number.isNaN(track.beforeUj)) {
        warnings.push(`${names[d]}: no reading before the segment began; the energy before the first one is missing.`);
      }
    });

    if (unresolved.length > 0) {
      warnings.push(
        `The segment (${durationMs.toFixed(3)} ms) is shorter than the counters' update interval of ${unresolved.join(', ')}: ` +
          'at most one update fell inside it, so its energy is the power around it times its duration (see minJoules/maxJoules).',
      );
    }
    for (const [from, to] of this.#gapsMs) {
      warnings.push(
        `No tick for ${(to - from).toFixed(1)} ms, from ${(from - startMs).toFixed(1)} ms into the segment ` +
          '(the ring was full or the sampler late): the energy there is interpolated and the timeline flat.',
      );
    }
    const shares = this.#shares?.filter((share) => share !== undefined) ?? [];
    if (shares.some((share) => !share.settled)) {
      warnings.push('No CPU-time round came after the segment ended (stopped or closed?): processJoules is left out.');
    } else if (shares.length > 0 && shares[0].inside < MIN_ROUNDS_FOR_SHARE) {
      warnings.push(
        `processJoules: only ${shares[0].inside} rounds of CPU-time reads fell inside the segment (processRateHz; /proc counts CPU time in 10 ms ticks), ` +
          'so the process share is coarse: it is interpolated between rounds. Measure a second or more for a share to go by.',
      );
    }
    if (source === 'model') warnings.push('Source "model": an estimate from CPU utilisation, not a measurement.');
    return { tag, source, startMs, endMs, durationMs, domains, timeline, warnings };
  }
}
