// The arithmetic of attribution, apart from any clock, file or sampler: one interval's
// measured energy split between consumers by their busy CPU time, in whole microjoules,
// so that the parts and the unattributed remainder add up to the measured energy exactly.
//
//   part_i = floor(measured x busy_i / max(systemBusy, sum of busy_i))
//   unattributed = measured - sum of part_i
//
// The whole measured energy, idle power included, is shared by whoever was busy, in
// proportion to busy time (see docs/attribution.md for why, against Scaphandre and
// Kepler). The denominator is at least the consumers' sum: the system's counter and the
// consumers' are read a few microseconds apart and in different units of rounding, and a
// share above the whole would take energy from nobody.

/** One interval's split: whole microjoules per consumer (same order as `busy`), and the rest. */
export interface Split {
  partsUj: number[];
  unattributedUj: number;
}

/**
 * Splits `measuredUj` (a whole, non-negative number) by busy CPU time. `systemBusy` and
 * `busy` are in the same unit (clock ticks, or ns). With no busy time at all, nothing is
 * attributed: an idle machine's energy is nobody's.
 */
export function splitEnergy(measuredUj: number, systemBusy: number, busy: ArrayLike<number>): Split {
  const parts = new Float64Array(busy.length);
  const unattributedUj = splitEnergyInto(measuredUj, systemBusy, busy, busy.length, parts);
  return { partsUj: Array.from(parts), unattributedUj };
}

/** splitEnergy of busy[0..n) into partsUj[0..n), allocating nothing; returns the unattributed rest. */
export function splitEnergyInto(measuredUj: number, systemBusy: number, busy: ArrayLike<number>, n: number, partsUj: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.max(0, busy[i]);
  const whole = Math.max(systemBusy, sum);
  if (!(whole > 0) || !(measuredUj > 0)) {
    partsUj.fill(0, 0, n);
    return Math.max(0, measuredUj);
  }
  let given = 0;
  for (let i = 0; i < n; i++) {
    // floor keeps every part whole and their sum at most the measured energy.
    partsUj[i] = Math.floor((measuredUj * Math.max(0, busy[i])) / whole);
    given += partsUj[i];
  }
  return measuredUj - given;
}

/**
 * A cgroup's own busy time: its counter counts its descendants' too, so the tracked
 * children's deltas come off it (never below zero: they are read a little later), and
 * nested cgroups never count the same CPU time twice. `parent[i]` is i's tracked parent
 * (-1 for none).
 */
export function exclusiveBusy(busy: ArrayLike<number>, parent: ArrayLike<number>): Float64Array {
  const own = new Float64Array(busy.length);
  exclusiveBusyInto(busy, parent, busy.length, own);
  return own;
}

/** exclusiveBusy of busy[0..n) into own[0..n), allocating nothing. */
export function exclusiveBusyInto(busy: ArrayLike<number>, parent: ArrayLike<number>, n: number, own: Float64Array): void {
  for (let i = 0; i < n; i++) own[i] = busy[i];
  for (let i = 0; i < n; i++) if (parent[i] >= 0) own[parent[i]] -= busy[i];
  for (let i = 0; i < n; i++) own[i] = Math.max(0, own[i]);
}

/** The energy of a cumulative counter at `timeMs`, linear between ticks around it. */
export function energyAt(timeMs: number, beforeMs: number, beforeUj: number, afterMs: number, afterUj: number): number {
  if (!(afterMs > beforeMs)) return afterUj;
  return beforeUj + ((afterUj - beforeUj) * (timeMs - beforeMs)) / (afterMs - beforeMs);
}
