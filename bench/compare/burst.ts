// Reading a short power burst back from what one strategy stored: the power samples whose
// windows cover it (energy above base, peak, how narrowly they place it) and the energy
// counter around it. Pure functions of the stored points.
import type { Point } from './prometheus.js';
import type { BurstReading } from './results.js';
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
    points: power.map(([ms, watts]) => ({ ms: ms - burst.onMs, watts })),
  };
}
