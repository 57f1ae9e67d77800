// What a measurement says about one segment of time: the shape every handler reads.
import type { SourceKind } from '../native.js';

export interface DomainEnergy {
  /** Energy over the segment, its boundaries interpolated between counter updates. */
  joules: number;
  /** Mean power over the segment. */
  watts: number;
  /** The highest bin of the power timeline (so it depends on timeline.stepMs). */
  peakWatts: number;
  /**
   * What the counter readings alone prove: between the energy of the updates that fell
   * inside the segment (0 when none did) and that of the updates just outside it.
   */
  minJoules: number;
  maxJoules: number;
  /**
   * False when the segment was shorter than the counter's update interval (at most one
   * update inside it): `joules` is the power around it times the duration, not a
   * measurement of the segment itself.
   */
  resolved: boolean;
  /** Observed interval between the counter's updates (RAPL: about 1 ms). */
  updateIntervalMs: number;
  /**
   * The calling process's attributed share of `joules` (its threads, not its children):
   * the energy split by busy CPU time, an estimate (docs/measure.md). Present when the
   * sampler attributes to this process (the `self` option) and the domain is a CPU one.
   */
  processJoules?: number;
}

export interface PowerTimeline {
  /**
   * Width of every bin but the last, which ends at the segment's endMs: at least ten
   * counter updates (and ten ticks), doubled as often as needed to keep the bins within
   * the timelinePoints bound.
   */
  stepMs: number;
  /** Start of each bin, ms since the epoch. */
  timestampsMs: Float64Array;
  /** Per domain, mean watts in each bin. */
  watts: Record<string, Float64Array>;
}

export interface EnergyReport {
  tag: string;
  /** Where the numbers come from; `model` is an estimate from CPU utilisation, not a measurement. */
  source: SourceKind;
  /** Segment boundaries, ms since the epoch (the clock of the sampler's ticks). */
  startMs: number;
  endMs: number;
  durationMs: number;
  domains: Record<string, DomainEnergy>;
  timeline: PowerTimeline;
  /** Everything that makes these numbers less than a plain measurement, in words. */
  warnings: string[];
}

/** The reports of an EnergyMeter's segments, in order. */
export type EnergyTrace = EnergyReport[];

/** Receives each report once its segment is settled; see handlers.ts. */
export type EnergyHandler = (report: EnergyReport) => void;
