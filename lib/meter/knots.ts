// What meters read of a sampler: its ticks, and each domain's *knots*, the ticks where
// the counter's value changed. One knot feed per sampler, shared by every measure() call
// and EnergyMeter on it; it subscribes to the sampler only while one of them holds it, so
// exporters alone never pay for knot finding.
//
// About the knots: RAPL updates about every millisecond however fast it is read,
// so the cumulative energy is a staircase; the knots are the points through which the
// true energy curve passes, and interpolating between them is what lets a segment
// boundary fall between two counter updates honestly.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch } from '../batch.js';
import type { Sampler } from '../sampler.js';
import type { Attribution } from '../attribution/types.js';
import type { Knot, Knots, KnotUpdate } from './span.js';

export type KnotListener = (update: KnotUpdate) => void;

/**
 * The calling process's attributed energy (a consumer with `self`) as knots: its
 * cumulative whole microjoules at every interval end of the process view, per domain
 * (undefined for a domain not attributed, and when the sampler does not attribute).
 * Between interval ends the share is interpolated like the energy.
 */
export class SelfKnotFinder {
  #self = -1; // the consumer's index, once seen
  #uj: number[] = []; // per attributed domain, the latest row's value
  #last: Knot[];

  constructor(domains: number) {
    this.#last = Array.from({ length: domains }, () => ({ timeMs: NaN, energyUj: NaN }));
  }

  /** Domain d's latest knot (NaN before the first). */
  lastKnot(d: number): Knot {
    return this.#last[d];
  }

  /**
   * Starts again from the sampler's running totals: batches drained while nobody held
   * the feed never reached this finder, and a stale value would put their energy into the
   * next segment.
   */
  resume(attribution: Attribution | undefined, domains: readonly { readonly name: string }[]): void {
    const totals = attribution?.totals('process');
    const own = totals?.consumers.find((c) => c.consumer.self);
    if (!totals || !own) return;
    this.#self = own.consumer.index;
    this.#uj = [...own.energyUj];
    totals.domains.forEach((name, a) => {
      const d = domains.findIndex((domain) => domain.name === name);
      this.#last[d] = { timeMs: totals.endMs, energyUj: own.energyUj[a] };
    });
  }

  find(batch: Batch): (Knots | undefined)[] | undefined {
    const view = batch.attribution?.processes;
    if (!view) return undefined;
    if (this.#self < 0) this.#self = batch.attribution!.consumers.findIndex((c) => c.self);
    if (this.#uj.length === 0) this.#uj = view.domains.map(() => 0);
    const { rows, endMs } = view;
    const columns = view.domains.map(() => new Float64Array(endMs.length));
    let r = 0;
    for (let i = 0; i < endMs.length; i++) {
      for (; r < rows.length && rows.interval[r] === i; r++) {
        if (rows.consumer[r] === this.#self) view.domains.forEach((_, a) => (this.#uj[a] = rows.energyUj[a][r]));
      }
      view.domains.forEach((_, a) => (columns[a][i] = this.#uj[a]));
    }
    const knots: (Knots | undefined)[] = batch.domains.map(() => undefined);
    view.domains.forEach((d, a) => {
      knots[d] = { timesMs: endMs, energyUj: columns[a] };
      if (endMs.length > 0) this.#last[d] = { timeMs: endMs[endMs.length - 1], energyUj: columns[a][endMs.length - 1] };
    });
    return knots;
  }
}

/** How long a sampler the feed started keeps running after the last hold is released. */
const LINGER_MS = 1000;
/** The longest ready() waits for current ticks and moving counters to show their pace. */
const READY_LIMIT_MS = 250;

/**
 * Finds the knots in ticks as they come, keeping what it learns of each counter: its
 * last value and update, and the mean interval between its updates. Pure: it reads no
 * clock, so it is tested on made-up ticks.
 */
export class KnotFinder {
  /** Ticks further apart than this mean the ring was full or the sampler late or stopped. */
  readonly gapMs: number;
  // The last tick, and per domain its value, its last knot, its timed updates since the
  // last gap, and the mean interval between its updates with the count behind it.
  #lastTickMs = NaN;
  #lastUj: Float64Array;
  #lastKnotMs: Float64Array;
  #lastKnotUj: Float64Array;
  #timedUpdates: Uint32Array;
  #updateIntervalMs: Float64Array;
  #intervalsSeen: Uint32Array;

  constructor(domains: number, periodMs: number) {
    this.gapMs = 10 * periodMs;
    this.#lastUj = new Float64Array(domains).fill(NaN);
    this.#lastKnotMs = new Float64Array(domains).fill(NaN);
    this.#lastKnotUj = new Float64Array(domains).fill(NaN);
    this.#timedUpdates = new Uint32Array(domains);
    this.#updateIntervalMs = new Float64Array(domains).fill(NaN);
    this.#intervalsSeen = new Uint32Array(domains);
  }

  get lastTickMs(): number {
    return this.#lastTickMs;
  }

  /** The latest counter update of domain d (NaN before the first tick). */
  lastKnot(d: number): Knot {
    return { timeMs: this.#lastKnotMs[d], energyUj: this.#lastKnotUj[d] };
  }

  /** Mean interval between domain d's counter updates seen lately (NaN until two). */
  updateIntervalMs(d: number): number {
    return this.#updateIntervalMs[d];
  }

  /** Two timed updates since the last gap and three intervals in all: a pace to go by. */
  paceKnown(d: number): boolean {
    return this.#timedUpdates[d] >= 2 && this.#intervalsSeen[d] >= 3;
  }

  /** No update of domain d timed yet, ever. */
  neverMoved(d: number): boolean {
    return this.#timedUpdates[d] === 0 && this.#intervalsSeen[d] === 0;
  }

  find(batch: Batch): KnotUpdate {
    const domains = batch.energyUj.length;
    const knots = batch.energyUj.map(() => ({ timesMs: new Float64Array(batch.length), energyUj: new Float64Array(batch.length) }));
    const counts = new Array<number>(domains).fill(0);
    const gapsMs: [number, number][] = [];
    for (let i = 0; i < batch.length; i++) {
      const t = batch.timestampsMs[i];
      const prevMs = this.#lastTickMs;
      // At the first tick and after a gap, the previous reading says nothing about when
      // the counter moved: the tick only tells where the counter is (a seed).
      const fresh = !(t - prevMs <= this.gapMs);
      if (fresh && !Number.isNaN(prevMs)) gapsMs.push([prevMs, t]);
      for (let d = 0; d < domains; d++) {
        const uj = batch.energyUj[d][i];
        if (fresh) this.#timedUpdates[d] = 0;
        // A value seen before is no update, after a gap too: a knot there would close a
        // segment on a counter that never moved (a silent 0 J) and flatten the
        // interpolation up to it.
        if (uj === this.#lastUj[d]) continue;
        let timeMs = t;
        if (!fresh) {
          // The update happened between the previous tick and this one: the midpoint is
          // the unbiased guess of when. Only the interval between two such updates is
          // one update long; a seed's time is merely an upper bound.
          timeMs = (prevMs + t) / 2;
          if (this.#timedUpdates[d]++ > 0) this.#addInterval(d, timeMs - this.#lastKnotMs[d]);
        }
        this.#lastKnotMs[d] = knots[d].timesMs[counts[d]] = timeMs;
        this.#lastKnotUj[d] = knots[d].energyUj[counts[d]++] = uj;
        this.#lastUj[d] = uj;
      }
      this.#lastTickMs = t;
    }
    return {
      knots: knots.map((k, d) => ({ timesMs: k.timesMs.subarray(0, counts[d]), energyUj: k.energyUj.subarray(0, counts[d]) })),
      gapsMs,
    };
  }

  // Each interval is off by up to a tick and by the counter's own jitter, so one alone
  // can be half or twice the true one: the first ten are averaged evenly, later ones
  // weigh a tenth, so the estimate follows a counter whose pace changes.
  #addInterval(d: number, intervalMs: number): void {
    const n = Math.min(++this.#intervalsSeen[d], 10);
    const mean = this.#updateIntervalMs[d];
    this.#updateIntervalMs[d] = n === 1 ? intervalMs : mean + (intervalMs - mean) / n;
  }
}

/** A sampler's knots as they come, for the meters and measurements on it. */
export class KnotFeed {
  readonly sampler: Sampler;
  readonly periodMs: number;
  readonly #finder: KnotFinder;
  readonly #selfFinder: SelfKnotFinder;
  #listeners = new Set<KnotListener>();
  #holds = 0;
  #heldSinceMs = NaN;
  #releaseSampler: (() => void) | undefined;

  constructor(sampler: Sampler) {
    this.sampler = sampler;
    this.periodMs = 1000 / sampler.rateHz;
    this.#finder = new KnotFinder(sampler.domains.length, this.periodMs);
    this.#selfFinder = new SelfKnotFinder(sampler.domains.length);
  }

  /** Now, on the clock the ticks are stamped with (see Sampler.nowMs). */
  nowMs(): number {
    return this.sampler.nowMs();
  }

  get lastTickMs(): number {
    return this.#finder.lastTickMs;
  }

  lastKnot(d: number): Knot {
    return this.#finder.lastKnot(d);
  }

  updateIntervalMs(d: number): number {
    return this.#finder.updateIntervalMs(d);
  }

  /** Whether the sampler attributes energy to this process (opened with `self`). */
  get attributesSelf(): boolean {
    return this.sampler.attribution?.consumers.some((c) => c.self) ?? false;
  }

  /** Domain d's latest knot of this process's attributed energy (NaN before the first). */
  lastSelfKnot(d: number): Knot {
    return this.#selfFinder.lastKnot(d);
  }

  subscribe(listener: KnotListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Keeps the sampler running and the feed subscribed until the returned release is
   * called. A sampler the hold started stops LINGER_MS after the last release, so
   * back-to-back measurements reuse it warm.
   */
  hold(): () => void {
    if (this.#holds === 0) {
      this.#releaseSampler = this.sampler.follow((batch) => this.#deliver(batch), { lingerMs: LINGER_MS });
      this.#selfFinder.resume(this.sampler.attribution, this.sampler.domains);
      this.#heldSinceMs = this.nowMs();
    }
    this.#holds++; // counted once the sampler is held: a closed one throws above
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0) this.#releaseSampler?.();
    };
  }

  /** Drains the sampler now: its ticks reach this feed's subscribers (and the sampler's). */
  pump(): void {
    if (!this.sampler.closed) this.sampler.drain();
  }

  #deliver(batch: Batch): void {
    const update: KnotUpdate = { ...this.#finder.find(batch), self: this.#selfFinder.find(batch) };
    for (const listener of this.#listeners) listener(update);
  }

  /**
   * Resolves once the ticks are current and every domain has shown two timed counter
   * updates since the last gap and three update intervals in all, so a segment opened
   * now has a knot before its start and an update interval (the mean of three at least)
   * to size its timeline bins by. A domain whose counter has not moved at all is waited
   * for a few periods only (an idle DRAM may stand still); one that has moved is waited
   * for longer, since a loaded machine can stretch its first few updates past that.
   */
  async ready(): Promise<void> {
    const stillMs = performance.now() + 6 * Math.max(this.periodMs, 1) + 30;
    const finder = this.#finder;
    const standsStill = (d: number) => finder.neverMoved(d) && performance.now() > stillMs;
    const current = () => this.nowMs() - finder.lastTickMs <= finder.gapMs;
    // The process's share needs a CPU-time round since the hold, to start from.
    const self = this.attributesSelf;
    const shareCurrent = () => !self || this.sampler.domains.some((_, d) => this.lastSelfKnot(d).timeMs >= this.#heldSinceMs);
    await this.until(() => current() && shareCurrent() && this.sampler.domains.every((_, d) => finder.paceKnown(d) || standsStill(d)), READY_LIMIT_MS);
  }

  /** Pumps about every millisecond until `done()` holds or `timeoutMs` passes. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.pump();
      if (done()) return true;
      if (performance.now() > deadline || this.sampler.closed) return false;
      await sleep(1);
    }
  }
}

const feeds = new WeakMap<Sampler, KnotFeed>();

/** The knot feed of a sampler: one per sampler, created on first use. */
export function knotFeed(sampler: Sampler): KnotFeed {
  let feed = feeds.get(sampler);
  if (!feed) feeds.set(sampler, (feed = new KnotFeed(sampler)));
  return feed;
}
