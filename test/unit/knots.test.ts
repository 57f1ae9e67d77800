// Knot finding on made-up ticks: where a counter's value changes, when that is taken to
// have happened, what a gap does, and the update interval it learns. Exact, no clock.
import test from 'ava';
import type { Batch } from '../../lib/index.js';
import { KnotFinder } from '../../lib/meter/knots.js';

/** Ticks every periodMs from t0 of counters given as functions of the tick's time. */
function ticks(t0: number, periodMs: number, n: number, ...counters: ((t: number) => number)[]): Batch {
  const timestampsMs = Float64Array.from({ length: n }, (_, i) => t0 + i * periodMs);
  return {
    domains: counters.map((_, d) => ({ name: `d${d}`, source: 'powercap', path: '', maxEnergyRangeUj: 0 })),
    timestampsMs,
    energyUj: counters.map((f) => timestampsMs.map(f)),
    length: n,
  };
}

/** A counter that adds `uj` every `everyMs`, its updates at phase, phase + everyMs... */
const staircase = (everyMs: number, uj: number, phase = 0) => (t: number) => Math.floor((t - phase) / everyMs) * uj;

test('a knot where the value changes, timed at the midpoint of the ticks around it; the first tick is a seed', (t) => {
  const finder = new KnotFinder(1, 0.25);
  // Updates at 1, 2, 3 ms; ticks every 0.25 ms from 0.1 ms.
  const { knots, gapsMs } = finder.find(ticks(0.1, 0.25, 14, staircase(1, 100)));
  t.deepEqual(Array.from(knots[0].energyUj), [0, 100, 200, 300]);
  t.deepEqual(Array.from(knots[0].timesMs), [0.1, (0.85 + 1.1) / 2, (1.85 + 2.1) / 2, (2.85 + 3.1) / 2]);
  t.deepEqual(gapsMs, []);
  t.deepEqual(finder.lastKnot(0), { timeMs: (2.85 + 3.1) / 2, energyUj: 300 });
  t.is(finder.lastTickMs, 0.1 + 13 * 0.25);
});

test('the update interval runs from update to update, never from the first tick', (t) => {
  // At 10 kHz the first tick falls a random fraction of an update before the first
  // update: timing an interval from it gave bins of 1 to 8 ms instead of ten updates.
  for (const phase of [0.05, 0.37, 0.93]) {
    const finder = new KnotFinder(1, 0.1);
    finder.find(ticks(0, 0.1, 45, staircase(1, 50, phase)));
    t.is(finder.updateIntervalMs(0).toFixed(9), (1).toFixed(9), `phase ${phase}`);
    t.true(finder.paceKnown(0));
  }
});

test('the interval estimate: the first ten averaged evenly, later ones weigh a tenth', (t) => {
  const finder = new KnotFinder(1, 0.5);
  // Updates every 2 ms for 11 intervals, then every 4 ms.
  const f = (ms: number) => (ms < 24 ? Math.floor(ms / 2) : 12 + Math.floor((ms - 24) / 4)) * 10;
  finder.find(ticks(0.25, 0.5, 48, f)); // up to 23.75 ms: updates at 2..22 ms, ten intervals of 2
  t.is(finder.updateIntervalMs(0), 2);
  finder.find(ticks(24.25, 0.5, 8, f)); // the update at 24 ms: an eleventh interval, 2 ms
  t.is(finder.updateIntervalMs(0), 2);
  finder.find(ticks(28.25, 0.5, 1, f)); // the update at 28 ms: 4 ms, weighing a tenth
  t.is(finder.updateIntervalMs(0), 2 + (4 - 2) / 10);
});

test('a gap is reported, restarts the timing, and a value unchanged across it is no knot', (t) => {
  const finder = new KnotFinder(2, 1);
  const moving = staircase(1, 10);
  const idle = () => 7;
  finder.find(ticks(0.5, 1, 6, moving, idle)); // up to 5.5 ms
  t.true(finder.paceKnown(0));
  t.true(finder.neverMoved(1), 'a counter that stands still has no timed update');
  // 20 ms without a tick (ten periods is the limit), then the counters as before the gap
  // for domain 1 and further on for domain 0.
  const after = finder.find(ticks(25.5, 1, 1, moving, idle));
  t.deepEqual(after.gapsMs, [[5.5, 25.5]]);
  // Domain 0 moved during the gap: the first tick after it is a seed at its own time, not
  // a midpoint across the gap, and not yet a pace.
  t.deepEqual(Array.from(after.knots[0].timesMs), [25.5]);
  t.false(finder.paceKnown(0), 'a seed after a gap is not a pace yet');
  t.deepEqual(Array.from(after.knots[1].timesMs), [], 'no knot for a value seen before the gap');
  t.deepEqual(finder.lastKnot(1), { timeMs: 0.5, energyUj: 7 });
  const next = finder.find(ticks(26.5, 1, 2, moving, idle));
  t.deepEqual(Array.from(next.knots[0].timesMs), [26, 27]);
  t.true(finder.paceKnown(0), 'two timed updates since the gap');
});

test('ticks exactly ten periods apart are no gap', (t) => {
  const finder = new KnotFinder(1, 1);
  finder.find(ticks(0, 1, 2, staircase(1, 1)));
  t.deepEqual(finder.find(ticks(11, 1, 1, staircase(1, 1))).gapsMs, []);
  t.deepEqual(finder.find(ticks(21.5, 1, 1, staircase(1, 1))).gapsMs, [[11, 21.5]]);
});
