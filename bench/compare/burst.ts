// Reading a short power burst back from what one strategy stored: the power samples whose
// windows cover it (energy above base, peak, how narrowly they place it) and the energy
// counter around it. Pure functions of the stored points.
import type { Point } from '../../fixtures/stack-prometheus.js';
import type { BurstReading } from '../../fixtures/compare-report.js';
import type { Strategy } from './strategies.js';

export interface BurstTimes {
  onMs: number;
  offMs: number;
  baseW: number;
}

// The burst's start and end are known to a millisecond or so (the round trip to the fake
// writer): a sample window that reaches this close counts as covering it.
const SLACK_MS = 5;

/** `power` and `energy` must start at least one sample before the burst and end after it. */
export function readBurst(strategy: Strategy, power: Point[], energy: Point[], burst: BurstTimes): BurstReading {
  let gaugeJ = 0;
  let peakW: number | null = null;
  let from = Infinity;
  let to = -Infinity;
  for (let i = 1; i < power.length; i++) {
    const [ms, watts] = power[i]!;
    const windowMs = strategy.powerWindowMs(power[i - 1]![0], ms);
    if (ms < burst.onMs - SLACK_MS || ms - windowMs > burst.offMs + SLACK_MS) continue;
    gaugeJ += ((watts - burst.baseW) * windowMs) / 1000;
    peakW = Math.max(peakW ?? -Infinity, watts);
    from = Math.min(from, ms - windowMs);
    to = Math.max(to, ms);
  }
  const before = energy.filter(([ms]) => ms <= burst.onMs - SLACK_MS).at(-1);
  const after = energy.find(([ms]) => ms >= burst.offMs + SLACK_MS);
  const counterJ = before && after ? after[1] - before[1] - (burst.baseW * (after[0] - before[0])) / 1000 : null;
  return {
    gaugeJ,
    peakW,
    counterJ,
    locatedMs: peakW === null ? null : to - from,
    points: chartPoints(power.map(([ms, watts]) => ({ ms: ms - burst.onMs, watts }))),
  };
}

/** How far around the burst the chart looks, ms. */
export const CHART_WINDOW_MS = 600;

/**
 * The points the chart needs: those within its window, and the nearest one outside on
 * each side, so that a step line still crosses the window where samples are sparse.
 */
export function chartPoints(points: { ms: number; watts: number }[]): { ms: number; watts: number }[] {
  const first = points.findIndex((p) => p.ms >= -CHART_WINDOW_MS);
  if (first === -1) return points.slice(-1);
  let last = points.findIndex((p) => p.ms > CHART_WINDOW_MS);
  if (last === -1) last = points.length - 1;
  return points.slice(Math.max(0, first - 1), last + 1);
}
