// The segment maths on made-up counter updates (knots): EnergySpan turns them into joules,
// bounds, a power timeline and warnings, and Segment only adds the waiting. No clock and
// no writer process, so every value the maths makes exact is asserted exactly (to float
// precision); what the real sampler does with them is measure-segments.test.ts's part.
import test, { type ExecutionContext } from 'ava';
import { EnergySpan, type EnergySpanInit, type Knot, type KnotUpdate } from '../../lib/meter/span.js';
import { Segment, type SegmentFeed } from '../../lib/meter/segment.js';
import type { EnergyReport } from '../../lib/index.js';

type Point = readonly [ms: number, uj: number];

/** One drain's knots, one list of points per domain, and its gaps. */
function update(perDomain: readonly (readonly Point[])[], gapsMs: [number, number][] = []): KnotUpdate {
  const knots = perDomain.map((points) => ({ timesMs: Float64Array.from(points, (p) => p[0]), energyUj: Float64Array.from(points, (p) => p[1]) }));
  return { knots, gapsMs };
}

/** A counter at `watts`, updated every `everyMs` from fromMs to toMs, at atUj at fromMs. */
function counter(watts: number, fromMs: number, toMs: number, everyMs = 1, atUj = 0): Point[] {
  const points: Point[] = [];
  for (let ms = fromMs; ms <= toMs; ms += everyMs) points.push([ms, atUj + watts * 1000 * (ms - fromMs)]);
  return points;
}

const seed = ([timeMs, energyUj]: Point): Knot => ({ timeMs, energyUj });
const NO_KNOT: Knot = { timeMs: NaN, energyUj: NaN };

function span(init: Partial<EnergySpanInit>): EnergySpan {
  return new EnergySpan({ tag: 't', source: 'powercap', names: ['package-0'], startMs: 0, seeds: [seed([0, 0])], stepMs: 10, maxPoints: 1000, ...init });
}

function near(t: ExecutionContext, got: number, want: number, what: string) {
  t.true(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got}, want ${want}`);
}

function nearAll(t: ExecutionContext, got: ArrayLike<number>, want: readonly number[], what: string) {
  t.is(got.length, want.length, `${what}: ${Array.from(got)}`);
  want.forEach((w, i) => near(t, got[i], w, `${what}[${i}]`));
}

/** The report's numbers for one domain, checked all at once. */
function assertDomain(t: ExecutionContext, report: EnergyReport, name: string, want: Record<string, number | boolean>) {
  const got = report.domains[name] as unknown as Record<string, number | boolean>;
  for (const [key, value] of Object.entries(want)) {
    if (typeof value === 'boolean' || Number.isNaN(value)) t.is(got[key], value, `${name}.${key}`);
    else near(t, got[key] as number, value, `${name}.${key}`);
  }
}

/**
 * 20 W from atUj on, updated every millisecond, from 0.5 ms to 100.5 ms: the boundaries
 * fall halfway between updates. Fed in two drains, ended, then read past the end.
 */
function constantPower(t: ExecutionContext, atUj: number): EnergyReport {
  const points = counter(20, 0, 102, 1, atUj);
  const s = span({ startMs: 0.5, seeds: [seed(points[0])] });
  s.add(update([points.slice(1, 50)]));
  s.add(update([points.slice(50, 101)]));
  s.end(100.5);
  t.false(s.settled, 'waits for an update after the end');
  s.add(update([points.slice(101, 102)]));
  t.true(s.settled);
  s.add(update([[[103, atUj + 9e9]]])); // later updates change nothing
  return s.report([NaN]);
}

function assertConstantPower(t: ExecutionContext, report: EnergyReport) {
  t.like(report, { tag: 't', source: 'powercap', startMs: 0.5, endMs: 100.5, durationMs: 100, warnings: [] });
  // Inside: the updates at 1..100 ms; around: those at 0 and 101 ms.
  assertDomain(t, report, 'package-0', { joules: 2, watts: 20, peakWatts: 20, minJoules: 1.98, maxJoules: 2.02, resolved: true, updateIntervalMs: 1 });
  t.is(report.timeline.stepMs, 10);
  nearAll(t, report.timeline.timestampsMs, Array.from({ length: 10 }, (_, i) => 0.5 + 10 * i), 'timestamps');
  nearAll(t, report.timeline.watts['package-0'], Array(10).fill(20), 'watts');
}

test('constant power: joules, mean watts, bounds and every bin exact', (t) => {
  assertConstantPower(t, constantPower(t, 0));
});

test('a counter far past 2^32 uJ (wrapped many times, wrap-corrected) gives the same numbers', (t) => {
  assertConstantPower(t, constantPower(t, 20 * 262_143_328_851));
});

test('a power step: bins either side exact, the bin across it the mean, the peak the higher power', (t) => {
  // 10 W until 55 ms, 50 W after.
  const points = [...counter(10, 0, 55), ...counter(50, 55, 101, 1, 550_000).slice(1)];
  const s = span({});
  s.end(100); // the ring may be drained after the end: updates inside still count
  s.add(update([points.slice(1)]));
  const report = s.report([NaN]);
  nearAll(t, report.timeline.watts['package-0'], [10, 10, 10, 10, 10, 30, 50, 50, 50, 50], 'watts');
  // Inside: 1..99 ms; the update at 100 ms is the first at or after the end.
  assertDomain(t, report, 'package-0', { joules: 2.8, watts: 28, peakWatts: 50, minJoules: 2.74, maxJoules: 2.8, resolved: true, updateIntervalMs: 1 });
  t.deepEqual(report.warnings, []);
});

test('boundaries between updates take their share of the update, linearly', (t) => {
  // Updates every 4 ms at 10, 20 and 30 W; the segment runs from 2 to 9 ms.
  const s = span({ startMs: 2 });
  s.end(9);
  s.add(update([[[4, 40_000], [8, 120_000], [12, 240_000]]]));
  const report = s.report([NaN]);
  // 20 000 uJ at 2 ms (half of the first update), 150 000 at 9 ms (a quarter of the third).
  assertDomain(t, report, 'package-0', { joules: 0.13, watts: 0.13 / 0.007, peakWatts: 0.13 / 0.007, minJoules: 0.08, maxJoules: 0.24, resolved: true, updateIntervalMs: 4 });
  nearAll(t, report.timeline.watts['package-0'], [0.13 / 0.007], 'one bin');
});

test('a segment shorter than the update interval: the power around it times its duration, flagged', (t) => {
  const s = span({ startMs: 10.25, seeds: [seed([10, 200_000])] });
  s.end(10.5);
  s.add(update([[[11, 220_000], [12, 240_000]]]));
  // No update inside: the interval reported is the one the feed knows.
  const report = s.report([1]);
  assertDomain(t, report, 'package-0', { joules: 0.005, watts: 20, peakWatts: 20, minJoules: 0, maxJoules: 0.02, resolved: false, updateIntervalMs: 1 });
  nearAll(t, report.timeline.watts['package-0'], [20], 'one bin');
  t.deepEqual(report.warnings, [
    "The segment (0.250 ms) is shorter than the counters' update interval of package-0 (~1.00 ms): " +
      'at most one update fell inside it, so its energy is the power around it times its duration (see minJoules/maxJoules).',
  ]);
});

test('a gap in the ticks inside the segment is warned of, interpolated across, and the total stays right', (t) => {
  // No tick from 30 to 60 ms; the first update after it is timed at the tick that saw it.
  const points = counter(20, 0, 101).filter(([ms]) => ms <= 30 || ms >= 60);
  const s = span({});
  s.add(update([points.slice(1, 20)], [[-20, -5]])); // before the start: not this segment's
  s.end(100);
  s.add(update([points.slice(20)], [[30, 60]]));
  s.add(update([[]], [[100.25, 130]])); // after the end: not this segment's either
  const report = s.report([NaN]);
  assertDomain(t, report, 'package-0', { joules: 2, watts: 20, peakWatts: 20, resolved: true, updateIntervalMs: 98 / 69 });
  // The gap hid 29 updates, so the mean interval inside looks 1.42 ms, and eight of those
  // make 20 ms bins.
  t.is(report.timeline.stepMs, 20);
  nearAll(t, report.timeline.watts['package-0'], Array(5).fill(20), 'watts');
  t.deepEqual(report.warnings, [
    'No tick for 30.0 ms, from 30.0 ms into the segment (the ring was full or the sampler late): the energy there is interpolated and the timeline flat.',
  ]);
});

test('a short segment before a gap waits for the next update: unresolved, never a silent zero', (t) => {
  // A counter that moves every 100 ms (20 W); the ticks stop inside the 0.25 ms segment
  // and resume before the next update.
  const s = span({ startMs: 50, seeds: [seed([0, 0])] });
  s.add(update([[]], [[50.125, 65]]));
  s.end(50.25);
  t.false(s.settleIfIdle(0, 65, 301), 'not idle: the ticks have not gone on for three update intervals');
  s.add(update([[[100, 2_000_000]]]));
  t.true(s.settled);
  const report = s.report([100]);
  assertDomain(t, report, 'package-0', { joules: 0.005, watts: 20, minJoules: 0, maxJoules: 2, resolved: false });
  t.is(report.warnings.length, 2);
  t.regex(report.warnings[0], /^The segment \(0\.250 ms\) is shorter than the counters' update interval of package-0 \(~100\.00 ms\)/);
  t.regex(report.warnings[1], /^No tick for 14\.9 ms, from 0\.1 ms into the segment/);
});

test('an idle domain settles at zero once the ticks have gone on for its quiet time', (t) => {
  const s = span({ names: ['package-0', 'uncore-0'], seeds: [seed([0, 0]), seed([-5, 1234])] });
  s.end(100);
  s.add(update([counter(20, 0, 101).slice(1), []]));
  t.true(s.settleIfIdle(0, 103, 3), 'read past the end');
  t.false(s.settleIfIdle(1, 103, 3), 'still for 3 ms: not more than the quiet time');
  t.false(s.settled);
  t.true(s.settleIfIdle(1, 103.5, 3));
  t.true(s.settled);
  const report = s.report([1, NaN]);
  assertDomain(t, report, 'uncore-0', { joules: 0, watts: 0, peakWatts: 0, minJoules: 0, maxJoules: 0, resolved: true, updateIntervalMs: NaN });
  nearAll(t, report.timeline.watts['uncore-0'], Array(10).fill(0), 'uncore watts');
  assertDomain(t, report, 'package-0', { joules: 2, resolved: true });
  t.deepEqual(report.warnings, []);
});

test('no reading after the end: the last values stand, with a warning', (t) => {
  const s = span({ startMs: 0.5 });
  s.add(update([counter(20, 0, 100).slice(1)]));
  s.end(100.5);
  const report = s.report([NaN]);
  assertDomain(t, report, 'package-0', { joules: 1.99, minJoules: 1.98, maxJoules: 2, resolved: true });
  t.deepEqual(report.warnings, ['The sampler gave no reading after the segment ended (stopped or closed?): the last values read stand for its end.']);
});

test('a domain with no reading before the start: the energy from its first reading, with a warning', (t) => {
  const s = span({ seeds: [NO_KNOT] });
  s.end(100.5);
  s.add(update([counter(20, 5, 101, 1, 1e6)]));
  const report = s.report([NaN]);
  // The first reading, at 5 ms, stands for the start: the first bin is half empty.
  assertDomain(t, report, 'package-0', { joules: 1.91, minJoules: 1.9, maxJoules: NaN, resolved: true, updateIntervalMs: 1 });
  nearAll(t, report.timeline.watts['package-0'], [10, ...Array(9).fill(20)], 'watts');
  t.deepEqual(report.warnings, ['package-0: no reading before the segment began; the energy before the first one is missing.']);
});

test('the timeline is coarsened to stay within timelinePoints, and a last sliver joins the bin before it', (t) => {
  const points = counter(20, 0, 501);
  const s = span({ maxPoints: 8 });
  for (const point of points.slice(1, 501)) s.add(update([[point]]));
  s.end(500.5);
  s.add(update([points.slice(501)]));
  const report = s.report([NaN]);
  // 10 ms doubled until the grid over 500 ms has 8 points at most: 80 ms. The seventh
  // bin would be 20.5 ms, under half a step, so the sixth runs to the end.
  t.is(report.timeline.stepMs, 80);
  nearAll(t, report.timeline.timestampsMs, [0, 80, 160, 240, 320, 400], 'timestamps');
  nearAll(t, report.timeline.watts['package-0'], Array(6).fill(20), 'watts');
  assertDomain(t, report, 'package-0', { joules: 10.01, peakWatts: 20 });

  const one = span({ maxPoints: 1 });
  one.add(update([points.slice(1, 501)]));
  one.end(500.5);
  one.add(update([points.slice(501)]));
  nearAll(t, one.report([NaN]).timeline.watts['package-0'], [20], 'a single bin');
  t.throws(() => span({ maxPoints: 0 }), { instanceOf: RangeError, message: 'timelinePoints must be at least 1; got 0' });
});

test('bins are widened to hold 8 to 16 updates of a slow counter, once ten fell inside', (t) => {
  // 20 W updated every 300 ms; the bins were sized before any interval was known.
  const slow = (endMs: number) => {
    const points = counter(20, -150, endMs + 300, 300);
    const s = span({ seeds: [seed(points[0])] });
    s.end(endMs);
    s.add(update([points.slice(1)]));
    return s.report([NaN]);
  };
  const report = slow(4000); // thirteen updates inside
  const pkg = report.domains['package-0'];
  t.is(pkg.updateIntervalMs, 300);
  t.is(report.timeline.stepMs, 2400);
  t.true(report.timeline.stepMs >= 8 * 300 && report.timeline.stepMs < 16 * 300);
  nearAll(t, report.timeline.watts['package-0'], [20, 20], 'watts');
  near(t, pkg.joules, 80, 'joules');
  t.is(slow(2700).timeline.stepMs, 10, 'nine updates inside: too few to go by');
});

test('source "model" is flagged as an estimate', (t) => {
  const s = span({ source: 'model' });
  s.end(10);
  s.add(update([counter(20, 0, 11).slice(1)]));
  t.deepEqual(s.report([NaN]).warnings, ['Source "model": an estimate from CPU utilisation, not a measurement.']);
});

/** A feed whose drains are queued by hand: each pump delivers the next. */
class ScriptedFeed implements SegmentFeed {
  readonly periodMs = 1;
  readonly sampler = { domains: [{ name: 'package-0' }, { name: 'dram-0' }], source: 'powercap' as const };
  lastTickMs = NaN;
  clockMs = 0;
  intervalsMs = [4, NaN];
  seeds = [seed([0, 0]), seed([-3, 7])];
  drains: { tickMs: number; update: KnotUpdate }[] = [];
  listeners = new Set<(update: KnotUpdate) => void>();

  nowMs = () => this.clockMs;
  lastKnot = (d: number) => this.seeds[d];
  updateIntervalMs = (d: number) => this.intervalsMs[d];

  subscribe(listener: (update: KnotUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pump(): void {
    const drain = this.drains.shift();
    if (!drain) return;
    this.lastTickMs = drain.tickMs;
    for (const listener of this.listeners) listener(drain.update);
  }

  // Pumps drain by drain; running out of drains is the timeout.
  async until(done: () => boolean): Promise<boolean> {
    for (;;) {
      this.pump();
      if (done()) return true;
      if (this.drains.length === 0) return false;
    }
  }
}

test('Segment: bins from the feed intervals, idle domains settled after their quiet time', async (t) => {
  const feed = new ScriptedFeed();
  feed.clockMs = 1;
  const segment = new Segment(feed, 'scripted');
  t.is(segment.startMs, 1);
  // 10 W on package-0, an update every 4 ms; dram-0 stands still.
  const pkg = counter(10, 0, 100, 4);
  feed.drains.push({ tickMs: 50, update: update([pkg.slice(1, 13), []]) });
  feed.pump();
  feed.clockMs = 98;
  segment.end();
  feed.drains.push({ tickMs: 101, update: update([pkg.slice(13), []]) });
  // dram-0 is idle once the ticks go on for more than 3 periods + 1 ms past the end.
  for (const tickMs of [102, 103, 104]) feed.drains.push({ tickMs, update: update([[], []]) });
  const report = await segment.settle();
  t.is(feed.drains.length, 1, 'settled at the tick 5 ms past the end, not before');
  t.is(feed.listeners.size, 0, 'unsubscribed');
  t.is(report.timeline.stepMs, 40, 'ten of the slowest update interval');
  assertDomain(t, report, 'package-0', { joules: 0.97, resolved: true, updateIntervalMs: 4 });
  assertDomain(t, report, 'dram-0', { joules: 0, resolved: true, updateIntervalMs: NaN });
  t.deepEqual(report.warnings, []);
});

test('Segment: a feed that stops before the end is read past reports the last values, with a warning', async (t) => {
  const feed = new ScriptedFeed();
  const segment = new Segment(feed, 'stalled', 8);
  await t.throwsAsync(segment.settle(), { message: 'wattmeter: end() the segment before settling it' });
  feed.drains.push({ tickMs: 20, update: update([counter(10, 0, 20, 4).slice(1), []]) });
  feed.clockMs = 22;
  segment.end();
  const report = await segment.settle();
  t.is(report.tag, 'stalled');
  t.regex(report.warnings[0], /^The sampler gave no reading after the segment ended/);
  assertDomain(t, report, 'package-0', { joules: 0.2, resolved: true });

  const cancelled = new Segment(feed, 'cancelled');
  cancelled.cancel();
  t.is(feed.listeners.size, 0, 'cancel() unsubscribes');
});
