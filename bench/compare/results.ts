// What the comparison measures, cell by cell and strategy by strategy: the shape of
// compare.json, which the report, the charts and the test read.
import type { StrategyName } from './strategies.js';

/** A 50 ms burst as one strategy stored it. */
export interface BurstReading {
  /** Energy above the base power that the stored power samples hold (0: the burst fell outside them). */
  gaugeJ: number;
  /** The highest stored power among the samples that cover the burst (null: none covers it). */
  peakW: number | null;
  /** Energy above base between the stored energy samples around the burst. */
  counterJ: number | null;
  /** The time span those power samples confine the burst to, ms (null: none covers it). */
  locatedMs: number | null;
  /** The stored power around the burst, time relative to its start, for the chart. */
  points: { ms: number; watts: number }[];
}

export interface StrategyResult {
  strategy: StrategyName;
  // Resolution, on one series (package power) over the steady span.
  /** Sampler ticks per second (the exporter's own counter, as stored). */
  sampledPerS: number;
  /** Samples stored per second per series. */
  storedPerS: number;
  /** stored / sampled, 0..1. */
  completeness: number;
  /** Ticks per second lost in the exporter because its ring buffer was full (drained too late). */
  droppedPerS: number;
  /** The longest time between two stored samples (a scrape lost, a stalled sampler...). */
  maxGapMs: number;
  // Accuracy.
  /** avg_over_time of the power gauge over the steady span. */
  meanPowerW: number;
  /** rate() of the energy counter over the steady span. */
  ratePowerW: number;
  burst: BurstReading | null;
  // Cost over the steady span.
  exporterCpuPct: number;
  exporterPeakMiB: number;
  prometheusCpuPct: number;
  prometheusRssMiB: number;
  /** Data directory bytes / samples appended since Prometheus started. */
  diskBytesPerSample: number;
  /** Bytes relayed between exporter and Prometheus / samples Prometheus appended, over the steady span. */
  wireBytesPerSample: number;
  // Latency: from a sample's timestamp to the first query that returns it.
  latencyP50Ms: number;
  latencyMaxMs: number;
  latencySamples: number;
  /** Pull strategies: scrapes that failed (up == 0) over the steady span; null for remote write. */
  failedScrapes: number | null;
  // Robustness: Prometheus down for outageS, then restarted on its data directory.
  /** Samples stored with timestamps inside the outage. */
  outageStored: number;
  /** The longest time between two stored samples from before the stop to after the restart. */
  outageMaxGapMs: number;
  /** Seconds of data missing: that hole less the spacing the strategy stores at (Strategy.spacingMs). */
  outageLostS: number;
}

export interface BurstTruth {
  /** Power added for the burst, and its true length (from the fake writer's own energy). */
  extraW: number;
  durationMs: number;
  injectedJ: number;
}

export interface CellResult {
  rateHz: number;
  intervalS: number;
  steadyS: number;
  outageS: number;
  /** The known package power (null on real RAPL). */
  truthW: number | null;
  burst: BurstTruth | null;
  strategies: StrategyResult[];
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  prometheus: string;
  source: string;
}

export interface Comparison {
  quick: boolean;
  startedAt: string;
  durationS: number;
  machine: Machine;
  cells: CellResult[];
}
