// The working counters, watched: every working source sampled at once for a few seconds.
// How often each counter's value changes (the hardware's update interval) and whether
// two sources count the same energy for the same domain: a ratio near a power of two is a
// wrong energy unit (likwid #642 read Sapphire Rapids DRAM with the 15.3 uJ unit of older
// servers, a quarter of the truth).
import { setTimeout as sleep } from 'node:timers/promises';
import { concatBatches, type Batch } from '../batch.js';
import type { NativeOptions } from '../native.js';
import { MAX_RATE_HZ } from '../options.js';
import { openSampler, type Sampler } from '../sampler.js';
import type { Finding, Status } from './finding.js';
import { sourceOptions, type RealSource } from './sources.js';

export interface UpdateInterval {
  source: RealSource;
  domain: string;
  /** Median time between two changes of the value, in ms; null with fewer than two changes. */
  medianMs: number | null;
  /** Value changes seen. */
  changes: number;
  /** The first and last tick looked at, ms since the epoch. */
  fromMs: number;
  toMs: number;
}

export interface Agreement {
  domain: string;
  /** The reference first (powercap, else perf_event), then the source compared with it. */
  sources: [RealSource, RealSource];
  /** Energy each counted over the same window, in joules. */
  joules: [number, number];
  /** joules[1] / joules[0]. */
  ratio: number;
  /** log2 of the ratio rounded, when the ratio is that power of two (a unit error); else 0. */
  powerOfTwo: number;
  status: Status;
  fromMs: number;
  toMs: number;
}

/** Ratios within this of 1 (or of a power of two) count as equal. */
export const AGREEMENT_TOLERANCE = 0.03;

/** Median of the intervals between the ticks at which a column's value changed. */
export function changeIntervals(timestampsMs: ArrayLike<number>, values: ArrayLike<number>): { medianMs: number | null; changes: number } {
  const changedAt: number[] = [];
  for (let i = 1; i < values.length; i++) if (values[i] !== values[i - 1]) changedAt.push(timestampsMs[i]);
  const intervals = changedAt.slice(1).map((t, i) => t - changedAt[i]).sort((a, b) => a - b);
  if (intervals.length === 0) return { medianMs: null, changes: changedAt.length };
  const mid = intervals.length >> 1;
  const medianMs = intervals.length % 2 ? intervals[mid] : (intervals[mid - 1] + intervals[mid]) / 2;
  return { medianMs, changes: changedAt.length };
}

/** A cumulative column's value at time t, interpolated between the ticks around it. */
export function valueAt(timestampsMs: ArrayLike<number>, values: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = timestampsMs.length - 1;
  if (t <= timestampsMs[lo]) return values[lo];
  if (t >= timestampsMs[hi]) return values[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (timestampsMs[mid] <= t) lo = mid;
    else hi = mid;
  }
  const share = (t - timestampsMs[lo]) / (timestampsMs[hi] - timestampsMs[lo]);
  return values[lo] + (values[hi] - values[lo]) * share;
}

/** How a ratio of two sources' energies reads: equal, a unit error (2^k) or apart. */
export function judgeRatio(ratio: number): { status: Status; powerOfTwo: number } {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return { status: 'warn', powerOfTwo: 0 };
  const k = Math.round(Math.log2(ratio));
  const offBy = Math.abs(ratio / 2 ** k - 1);
  if (k === 0) return { status: offBy <= AGREEMENT_TOLERANCE ? 'ok' : 'warn', powerOfTwo: 0 };
  return offBy <= AGREEMENT_TOLERANCE ? { status: 'fail', powerOfTwo: k } : { status: 'warn', powerOfTwo: 0 };
}

/** One source's ticks over the run. */
export interface Watched {
  source: RealSource;
  batch: Batch;
}

export function updateIntervals(watched: readonly Watched[]): UpdateInterval[] {
  return watched.flatMap(({ source, batch }) =>
    batch.length < 2
      ? []
      : batch.domains.map((domain, d) => ({
          source,
          domain: domain.name,
          ...changeIntervals(batch.timestampsMs, batch.energyUj[d]),
          fromMs: batch.timestampsMs[0],
          toMs: batch.timestampsMs[batch.length - 1],
        })),
  );
}

/** Every domain two sources both read, compared over the window both watched. */
export function agreements(watched: readonly Watched[]): Agreement[] {
  const found: Agreement[] = [];
  // powercap and perf_event are scaled by the kernel, so they are the references.
  for (let a = 0; a < watched.length; a++) {
    for (let b = a + 1; b < watched.length; b++) {
      const [ref, other] = [watched[a], watched[b]];
      if (ref.batch.length < 2 || other.batch.length < 2) continue;
      const fromMs = Math.max(ref.batch.timestampsMs[0], other.batch.timestampsMs[0]);
      const toMs = Math.min(ref.batch.timestampsMs[ref.batch.length - 1], other.batch.timestampsMs[other.batch.length - 1]);
      if (!(toMs > fromMs)) continue;
      ref.batch.domains.forEach((domain, i) => {
        const j = other.batch.domains.findIndex((d) => d.name === domain.name);
        if (j < 0) return;
        const joules = (w: Watched, d: number) =>
          (valueAt(w.batch.timestampsMs, w.batch.energyUj[d], toMs) - valueAt(w.batch.timestampsMs, w.batch.energyUj[d], fromMs)) / 1e6;
        const pair: [number, number] = [joules(ref, i), joules(other, j)];
        const ratio = pair[1] / pair[0];
        found.push({ domain: domain.name, sources: [ref.source, other.source], joules: pair, ratio, ...judgeRatio(ratio), fromMs, toMs });
      });
    }
  }
  return found;
}

/** Samples every source at once for `seconds` at `rateHz`; each gets its own sampler. */
export async function watch(sources: readonly RealSource[], options: NativeOptions, rateHz: number, seconds: number): Promise<Watched[]> {
  const samplers: [RealSource, Sampler][] = [];
  try {
    for (const source of sources) samplers.push([source, openSampler({ ...sourceOptions(source, options), rateHz })]);
    const batches = samplers.map((): Batch[] => []);
    for (const [, sampler] of samplers) sampler.start();
    const deadline = performance.now() + seconds * 1000;
    const drainAll = () => samplers.forEach(([, sampler], i) => batches[i].push(sampler.drain()));
    while (performance.now() < deadline) {
      await sleep(Math.min(100, Math.max(0, deadline - performance.now())));
      drainAll();
    }
    for (const [, sampler] of samplers) sampler.stop();
    drainAll();
    return samplers.map(([source], i) => {
      const batch = concatBatches(batches[i]);
      // nvml rides along the model: keep its own domains only.
      const keep = batch.domains.map((d, j) => [d, j] as const).filter(([d]) => d.source === source);
      return {
        source,
        batch: { domains: keep.map(([d]) => d), timestampsMs: batch.timestampsMs, energyUj: keep.map(([, j]) => batch.energyUj[j]), length: batch.length },
      };
    });
  } finally {
    for (const [, sampler] of samplers) sampler.close();
  }
}

const fixed = (x: number, digits: number) => (Number.isInteger(x) ? String(x) : x.toFixed(digits));

export function intervalFinding(u: UpdateInterval, rateHz: number): Finding {
  const check = 'update-interval';
  const seconds = ((u.toMs - u.fromMs) / 1000).toFixed(1);
  const what = `${u.domain} (${u.source})`;
  if (u.medianMs === null) {
    return {
      check,
      status: 'warn',
      summary: `${what}: the value changed ${u.changes} time${u.changes === 1 ? '' : 's'} in ${seconds} s`,
      why: 'a counter that stands still counts no energy: an idle or absent domain, or a counter the hardware does not update',
    };
  }
  // Changing at (nearly) every tick, it may change faster than it was read.
  const everyTick = u.medianMs < 1.5 * (1000 / rateHz);
  return {
    check,
    status: 'ok',
    summary: `${what}: the value changes every ${fixed(u.medianMs, 2)} ms (median of ${u.changes} changes in ${seconds} s)`,
    why: everyTick
      ? `as often as it was read at ${rateHz} Hz: it may change faster (--rate ${Math.min(4 * rateHz, MAX_RATE_HZ)} tells)`
      : `sampling faster than ${fixed(1000 / u.medianMs, 0)} Hz reads repeated values`,
  };
}

export function agreementFinding(a: Agreement): Finding {
  const check = 'agreement';
  const [ref, other] = a.sources;
  const seconds = ((a.toMs - a.fromMs) / 1000).toFixed(1);
  const counted = `${other} counted ${a.joules[1].toFixed(3)} J, ${ref} ${a.joules[0].toFixed(3)} J in ${seconds} s`;
  if (a.status === 'ok') return { check, status: 'ok', summary: `${a.domain}: ${other} and ${ref} agree (ratio ${a.ratio.toFixed(4)}; ${counted})` };
  if (a.status === 'fail') {
    return {
      check,
      status: 'fail',
      summary: `${a.domain}: ${other} reads ${a.ratio.toFixed(4)} times ${ref}, 2^${a.powerOfTwo}: a wrong energy unit (${counted})`,
      why:
        `a power-of-two ratio is the signature of a counter read with the wrong energy unit (as likwid #642 read Sapphire Rapids DRAM ` +
        `with 15.3 uJ instead of 61 uJ); ${ref} is scaled by the kernel${other === 'msr' ? ', msr by wattmeter from its table of CPU models' : ''}`,
      fix: [`use --source ${ref} for ${a.domain}`, 'and report it with the output of `wattmeter doctor --json`, which names the CPU model'],
    };
  }
  if (!(a.joules[0] > 0) && !(a.joules[1] > 0)) {
    return { check, status: 'warn', summary: `${a.domain}: neither ${other} nor ${ref} counted any energy in ${seconds} s`, why: 'an idle or absent domain: nothing to compare' };
  }
  return {
    check,
    status: 'warn',
    summary: `${a.domain}: ${other} and ${ref} disagree (ratio ${Number.isFinite(a.ratio) ? a.ratio.toFixed(4) : a.ratio}; ${counted})`,
    why: 'not a unit error (not a power of two); an idle domain, or counters of different scope',
  };
}
