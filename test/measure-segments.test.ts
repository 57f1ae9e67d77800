// What measure() and EnergyMeter make of the ticks: boundaries, timelines, short,
// nested and concurrent segments, on a virtual sampler whose energy is known exactly.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnergyMeter, feedFor, measure, type EnergyReport } from '../lib/index.js';
import { nowMs } from '../lib/meter/feed.js';
import { VirtualSampler } from './helpers/virtual-sampler.js';

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

function constant(watts = 20, options = {}) {
  return new VirtualSampler([{ name: 'package-0', watts: () => watts }], options);
}

/** Relative error of `got` against `want`. */
const off = (got: number, want: number) => Math.abs(got - want) / want;

function exactJoules(sampler: VirtualSampler, report: EnergyReport, d = 0): number {
  return sampler.joules(d, report.startMs, report.endMs);
}

test('a sync function at constant power: joules, mean watts and a flat timeline', async (t) => {
  const virtual = constant(20);
  const { result, energy } = await measure(() => (spin(100), 42), { sampler: virtual.asSampler() });
  t.is(result, 42);
  t.is(energy.tag, 'measure');
  t.is(energy.source, 'powercap');
  const pkg = energy.domains['package-0'];
  t.true(energy.durationMs >= 100);
  t.true(off(pkg.joules, exactJoules(virtual, energy)) < 0.01, `${pkg.joules} J`);
  t.true(off(pkg.watts, 20) < 0.01, `${pkg.watts} W`);
  t.true(pkg.resolved);
  t.true(pkg.minJoules <= pkg.joules && pkg.joules <= pkg.maxJoules);
  t.true(off(pkg.updateIntervalMs, 1) < 0.1, `${pkg.updateIntervalMs} ms between updates`);
  const watts = energy.timeline.watts['package-0'];
  t.is(watts.length, energy.timeline.timestampsMs.length);
  t.true(watts.length >= 5, `${watts.length} bins`);
  t.true(energy.timeline.stepMs >= 9.5, `bins of ${energy.timeline.stepMs} ms: ten counter updates at least`);
  for (const w of watts) t.true(off(w, 20) < 0.1, `bin ${w} W`);
  t.deepEqual(energy.warnings, []);
});

test('an async function, and a power step that shows in the timeline and its peak', async (t) => {
  // The step comes 80 ms into the measured function: the sampler integrates power only
  // up to now, so setting it in the future is consistent.
  let stepAt = Infinity;
  const virtual = new VirtualSampler([{ name: 'package-0', watts: (ms) => (ms < stepAt ? 10 : 50) }]);
  const { result, energy } = await measure(
    async function work() {
      stepAt = nowMs() + 80;
      await sleep(200);
      return 'done';
    },
    { sampler: virtual.asSampler() },
  );
  t.is(result, 'done');
  t.is(energy.tag, 'work');
  const pkg = energy.domains['package-0'];
  t.true(off(pkg.joules, exactJoules(virtual, energy)) < 0.01, `${pkg.joules} J vs ${exactJoules(virtual, energy)}`);
  t.true(off(pkg.peakWatts, 50) < 0.05, `peak ${pkg.peakWatts} W`);
  const { timestampsMs, stepMs } = energy.timeline;
  const watts = energy.timeline.watts['package-0'];
  t.true(off(watts[0], 10) < 0.1, `first bin ${watts[0]} W`);
  t.true(off(watts[watts.length - 1], 50) < 0.1, `last bin ${watts.at(-1)} W`);
  watts.forEach((w, i) => {
    if (timestampsMs[i] + stepMs < stepAt) t.true(off(w, 10) < 0.1, `bin ${i}: ${w} W before the step`);
    if (timestampsMs[i] > stepAt) t.true(off(w, 50) < 0.1, `bin ${i}: ${w} W after the step`);
  });
});

test('a segment shorter than the update interval is flagged, not silently zero', async (t) => {
  const virtual = constant(20, { updateMs: 1 });
  // A 0.2 ms segment misses every update most of the time; try until one does.
  let energy: EnergyReport | undefined;
  for (let i = 0; i < 20 && (!energy || energy.domains['package-0'].resolved); i++) {
    energy = (await measure(() => spin(0.2), { sampler: virtual.asSampler() })).energy;
    const pkg = energy.domains['package-0'];
    t.true(pkg.joules > 0 && pkg.minJoules <= pkg.joules && pkg.joules <= pkg.maxJoules, JSON.stringify(pkg));
  }
  const pkg = energy!.domains['package-0'];
  t.false(pkg.resolved);
  t.is(pkg.minJoules, 0);
  t.true(pkg.maxJoules > 0);
  t.true(energy!.durationMs < 1);
  // At constant power, the interpolated energy is still the right order: power x time.
  t.true(off(pkg.watts, 20) < 0.2, `${pkg.watts} W`);
  t.regex(energy!.warnings.join('\n'), /shorter than the counters' update interval of package-0/);
});

test('EnergyMeter: tagged segments share their boundaries and add up to the whole', async (t) => {
  const virtual = constant(20);
  const handled: string[] = [];
  const meter = new EnergyMeter({ sampler: virtual.asSampler(), handlers: [(r) => handled.push(r.tag)] });
  t.false(meter.running);
  await meter.start('load');
  t.true(meter.running);
  spin(30);
  meter.record('parse');
  await sleep(40);
  meter.record('save');
  spin(5);
  const trace = await meter.stop();
  t.false(meter.running);
  t.deepEqual(trace.map((r) => r.tag), ['load', 'parse', 'save']);
  t.deepEqual(handled, ['load', 'parse', 'save']);
  for (let i = 1; i < trace.length; i++) t.is(trace[i].startMs, trace[i - 1].endMs);
  const sum = trace.reduce((j, r) => j + r.domains['package-0'].joules, 0);
  const whole = virtual.joules(0, trace[0].startMs, trace[2].endMs);
  t.true(off(sum, whole) < 0.01, `${sum} J in segments, ${whole} J in all`);
  for (const r of trace) t.true(off(r.domains['package-0'].watts, 20) < 0.05, `${r.tag}: ${r.domains['package-0'].watts} W`);
});

test('nested and concurrent measurements on one sampler do not disturb each other', async (t) => {
  const virtual = new VirtualSampler([
    { name: 'package-0', watts: () => 20 },
    { name: 'dram-0', watts: () => 3 },
  ]);
  const sampler = virtual.asSampler();
  const meter = await new EnergyMeter({ sampler }).start('outer');
  const runs = await Promise.all(
    [30, 60, 90].map((ms) =>
      measure(async () => {
        await sleep(ms);
        return (await measure(() => spin(5), { sampler, tag: `inner-${ms}` })).energy;
      }, { sampler, tag: `outer-${ms}` }),
    ),
  );
  const [outer] = await meter.stop();
  t.is(feedFor(sampler), feedFor(sampler), 'one feed per sampler');
  const reports = [outer, ...runs.flatMap((r) => [r.energy, r.result])];
  for (const report of reports) {
    for (const [d, want] of [[0, 20], [1, 3]] as const) {
      const got = report.domains[virtual.domains[d].name];
      t.true(off(got.joules, exactJoules(virtual, report, d)) < 0.02, `${report.tag} ${virtual.domains[d].name}: ${got.joules} J`);
      t.true(off(got.watts, want) < 0.05, `${report.tag}: ${got.watts} W`);
    }
  }
  for (const { energy, result } of runs) t.true(result.startMs >= energy.startMs && result.endMs <= energy.endMs);
  t.true(outer.durationMs >= 90);
});

test('the timeline stays within timelinePoints however long the segment', async (t) => {
  const virtual = constant(20);
  const { energy } = await measure(() => sleep(300), { sampler: virtual.asSampler(), timelinePoints: 8 });
  t.true(energy.timeline.timestampsMs.length <= 8, `${energy.timeline.timestampsMs.length} bins`);
  t.true(energy.timeline.stepMs >= energy.durationMs / 8);
  t.true(off(energy.domains['package-0'].joules, exactJoules(virtual, energy)) < 0.01);
});

test('an idle domain settles at zero without waiting for an update that never comes', async (t) => {
  const virtual = new VirtualSampler([
    { name: 'package-0', watts: () => 20 },
    { name: 'uncore-0', watts: () => 0 },
  ]);
  const { energy } = await measure(() => sleep(20), { sampler: virtual.asSampler() });
  t.is(energy.domains['uncore-0'].joules, 0);
  t.true(energy.domains['uncore-0'].resolved);
  t.deepEqual(energy.warnings, []);
});

test('a throwing function rejects measure() and leaves the feed usable', async (t) => {
  const sampler = constant(20).asSampler();
  await t.throwsAsync(measure(async () => Promise.reject(new Error('boom')), { sampler }), { message: 'boom' });
  const syncThrow = () => {
    throw new Error('sync boom');
  };
  await t.throwsAsync(measure(syncThrow, { sampler }), { message: 'sync boom' });
  const { energy } = await measure(() => spin(2), { sampler });
  t.true(energy.domains['package-0'].joules > 0);
});

test('EnergyMeter: misuse throws, `using` drops the segment, `await using` reports it', async (t) => {
  const sampler = constant(20).asSampler();
  const idle = new EnergyMeter({ sampler });
  t.throws(() => idle.record('x'), { message: /start\(\) the EnergyMeter first/ });
  await t.throwsAsync(idle.stop(), { message: /start\(\) the EnergyMeter first/ });
  const seen: string[] = [];
  {
    await using meter = await new EnergyMeter({ sampler, handlers: [(r) => seen.push(r.tag)] }).start('kept');
    await t.throwsAsync(meter.start(), { message: /already started/ });
    spin(3);
  }
  t.deepEqual(seen, ['kept']);
  {
    using meter = await new EnergyMeter({ sampler, handlers: [(r) => seen.push(r.tag)] }).start('dropped');
    t.true(meter.running);
  }
  await sleep(20);
  t.deepEqual(seen, ['kept']);
});

test('a gap in the ticks is reported, and the total across it stays right', async (t) => {
  const virtual = constant(20);
  const { energy } = await measure(
    async () => {
      virtual.stop();
      await sleep(60);
      virtual.start();
      await sleep(20);
    },
    { sampler: virtual.asSampler() },
  );
  t.regex(energy.warnings.join('\n'), /No tick for \d+\.\d ms/);
  t.true(off(energy.domains['package-0'].joules, exactJoules(virtual, energy)) < 0.02, `${energy.domains['package-0'].joules} J`);
});
