// measure() and EnergyMeter end to end: the real native sampler reading a fake powercap
// tree that a writer process advances in place, the RAPL hardware the only thing faked.
// The maths is tested exactly in segment-math.test.ts; here the reports are checked for
// what holds however late the writer or the sampler runs on a loaded machine: every
// value lies within what the fake counters recorded, a timeline adds up to its joules,
// segments inside others hold less energy, and the structure (tags, order, boundaries).
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnergyMeter, measure, openSampler, type EnergyReport, type Sampler } from '../lib/index.js';
import { FakeWriter, fakePowercap, removeRoot, tempRoot, type PowercapZoneSpec } from '../fixtures/fake-rapl.js';

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

// The zones a test can ask for, by the domain name wattmeter gives them.
const ZONES: Record<string, Omit<PowercapZoneSpec, 'watts'>> = {
  'package-0': { zone: 'intel-rapl:0', name: 'package-0' },
  'dram-0': { zone: 'intel-rapl:0:2', name: 'dram' },
};

interface FakeMachine {
  sampler: Sampler;
  writer: FakeWriter;
  /** Joules each counter advanced since the machine was made: a bound on every report. */
  recorded(): Promise<Record<string, number>>;
}

/**
 * A fake powercap tree with these domains at these watts, its writer (an update every
 * millisecond, like RAPL) and a real sampler on it, not started: the feed starts it, so
 * every value it reads comes after the first snapshot. Closed and removed at the end.
 */
async function fakeMachine(t: ExecutionContext, watts: Record<string, number> = { 'package-0': 20 }): Promise<FakeMachine> {
  // Teardowns run last first: the sampler is closed, then the writer stopped, then the
  // tree removed, whichever step a failure stopped at.
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const zones = Object.entries(watts).map(([key, w]) => ({ ...ZONES[key], watts: w }));
  const writer = await FakeWriter.start(fakePowercap(root, zones), 1, { fifo: true });
  t.teardown(() => writer.stop());
  const sampler = openSampler({ sysfsRoot: root });
  t.teardown(() => sampler.close());
  t.deepEqual(sampler.domains.map((d) => d.name), Object.keys(watts));
  const before = await writer.snapshot();
  const recorded = async () => {
    const after = await writer.snapshot();
    return Object.fromEntries(Object.keys(watts).map((key) => [key, (after[key].raw - before[key].raw) / 1e6]));
  };
  return { sampler, writer, recorded };
}

// A sampler thread that runs late on a busy machine leaves a gap in the ticks, which a
// report rightly mentions; any other warning is a failure.
const notGaps = (energy: EnergyReport) => energy.warnings.filter((w) => !/^No tick for /.test(w));

/**
 * What a report of a segment at constant power on a machine that recorded `recordedJ`
 * must show, however late anything ran: every domain updated inside it, its joules
 * within the bounds the counters prove and those within what the counters advanced, a
 * timeline that adds up to the joules, and no warning but gaps.
 */
function assertConsistent(t: ExecutionContext, energy: EnergyReport, recordedJ: Record<string, number>) {
  const what = (domain: string) => `${energy.tag} ${domain}: ${JSON.stringify(energy.domains[domain])}`;
  const { stepMs, timestampsMs } = energy.timeline;
  t.is(timestampsMs[0], energy.startMs);
  t.true(stepMs >= 10 && timestampsMs.length <= 1000, `${timestampsMs.length} bins of ${stepMs} ms`);
  const widthMs = (i: number) => (i + 1 < timestampsMs.length ? timestampsMs[i + 1] : energy.endMs) - timestampsMs[i];
  for (const [domain, got] of Object.entries(energy.domains)) {
    t.true(got.resolved, what(domain));
    t.true(got.joules > 0, what(domain));
    t.true(got.minJoules <= got.joules && got.joules <= got.maxJoules && got.maxJoules <= recordedJ[domain], `${what(domain)}, ${recordedJ[domain]} J recorded`);
    const watts = energy.timeline.watts[domain];
    const binned = watts.reduce((j, w, i) => j + (w * widthMs(i)) / 1000, 0);
    t.true(Math.abs(binned - got.joules) <= 1e-9 * got.joules, `${what(domain)}: ${binned} J in the timeline`);
    t.true(got.peakWatts >= got.watts * (1 - 1e-9), what(domain));
  }
  t.deepEqual(notGaps(energy), []);
}

// One test at a time: several writers and sampler threads at once would only measure how
// busy the VM is.
test.serial('a sync function: its result, its tag, and joules within what the counters recorded', async (t) => {
  const { sampler, recorded } = await fakeMachine(t);
  const { result, energy } = await measure(() => (spin(300), 42), { sampler });
  t.is(result, 42);
  t.is(energy.tag, 'measure');
  t.is(energy.source, 'powercap');
  t.true(energy.durationMs >= 300, `${energy.durationMs} ms`);
  assertConsistent(t, energy, await recorded());
  t.log(`${energy.domains['package-0'].joules.toFixed(3)} J in ${energy.durationMs.toFixed(1)} ms`, energy.warnings);
});

test.serial('an async function: its name is the tag, and the counters prove at least what they recorded inside it', async (t) => {
  const { sampler, writer, recorded } = await fakeMachine(t);
  let insideJ = NaN;
  const { result, energy } = await measure(
    async function work() {
      // An update timed before the start was read at a tick at most 5 ms after it (a
      // later tick follows a gap and times the update itself): the first snapshot
      // comes after, so the counters' reading before the start is below it.
      await sleep(20);
      const from = await writer.snapshot();
      await sleep(300);
      insideJ = ((await writer.snapshot())['package-0'].raw - from['package-0'].raw) / 1e6;
      return 'done';
    },
    { sampler, timelinePoints: 8 },
  );
  t.is(result, 'done');
  t.is(energy.tag, 'work');
  t.true(energy.durationMs >= 320, `${energy.durationMs} ms`);
  t.true(energy.timeline.timestampsMs.length <= 8);
  const pkg = energy.domains['package-0'];
  t.true(insideJ > 0 && pkg.maxJoules >= insideJ, `${JSON.stringify(pkg)}, ${insideJ} J recorded inside`);
  assertConsistent(t, energy, await recorded());
});

test.serial('EnergyMeter: tagged segments share their boundaries and add up to no more than the whole', async (t) => {
  const { sampler, recorded } = await fakeMachine(t);
  const whole = await new EnergyMeter({ sampler }).start('whole');
  const handled: string[] = [];
  const meter = new EnergyMeter({ sampler, handlers: [(r) => handled.push(r.tag)] });
  t.false(meter.running);
  await meter.start('load');
  t.true(meter.running);
  spin(200);
  meter.record('parse');
  await sleep(200);
  meter.record('save');
  spin(200);
  const trace = await meter.stop();
  t.false(meter.running);
  const [outer] = await whole.stop();
  t.deepEqual(trace.map((r) => r.tag), ['load', 'parse', 'save']);
  t.deepEqual(handled, ['load', 'parse', 'save']);
  for (let i = 1; i < trace.length; i++) t.is(trace[i].startMs, trace[i - 1].endMs);
  t.true(outer.startMs <= trace[0].startMs && trace[2].endMs <= outer.endMs);
  // Both meters interpolate between the same counter updates, so the segments' energy is
  // the whole's less the energy just before and after them.
  const sum = trace.reduce((j, r) => j + r.domains['package-0'].joules, 0);
  t.true(sum <= outer.domains['package-0'].joules * (1 + 1e-12), `${sum} J in segments, ${outer.domains['package-0'].joules} J in all`);
  const recordedJ = await recorded();
  for (const r of [outer, ...trace]) assertConsistent(t, r, recordedJ);
});

test.serial('nested and concurrent measurements on one sampler each see their own span', async (t) => {
  const { sampler, recorded } = await fakeMachine(t, { 'package-0': 20, 'dram-0': 3 });
  const meter = await new EnergyMeter({ sampler }).start('outer');
  const runs = await Promise.all(
    [100, 200, 300].map((ms) =>
      measure(async () => {
        await sleep(ms);
        return (await measure(() => sleep(300), { sampler, tag: `inner-${ms}` })).energy;
      }, { sampler, tag: `outer-${ms}` }),
    ),
  );
  const [outer] = await meter.stop();
  const recordedJ = await recorded();
  for (const report of [outer, ...runs.flatMap((r) => [r.energy, r.result])]) assertConsistent(t, report, recordedJ);
  const within = (inner: EnergyReport, around: EnergyReport) => {
    t.true(inner.startMs >= around.startMs && inner.endMs <= around.endMs, `${inner.tag} within ${around.tag}`);
    for (const [domain, { joules }] of Object.entries(inner.domains)) {
      t.true(joules <= around.domains[domain].joules * (1 + 1e-12), `${inner.tag} ${domain}: ${joules} J, ${around.tag}: ${around.domains[domain].joules} J`);
    }
  };
  for (const { energy, result } of runs) {
    within(result, energy);
    within(energy, outer);
  }
  t.is(sampler.stats().dropped, 0);
});

test.serial('a gap in the ticks is reported, and the segment settles across it', async (t) => {
  // The sampler thread stopped for 100 ms mid-segment while the counters go on (the feed
  // started it: it is stopped and started again under the feed's feet).
  const { sampler, recorded } = await fakeMachine(t);
  const { energy } = await measure(
    async () => {
      await sleep(150);
      sampler.stop();
      await sleep(100);
      sampler.start();
      await sleep(150);
    },
    { sampler },
  );
  const gaps = [...energy.warnings.join('\n').matchAll(/No tick for (\d+\.\d) ms/g)].map((m) => Number(m[1]));
  t.true(gaps.some((ms) => ms >= 95), `gaps of ${gaps.join(', ')} ms`);
  assertConsistent(t, energy, await recorded());
});

test.serial('a throwing function rejects measure() and leaves the sampler usable', async (t) => {
  const { sampler, recorded } = await fakeMachine(t);
  await t.throwsAsync(measure(async () => Promise.reject(new Error('boom')), { sampler }), { message: 'boom' });
  const syncThrow = () => {
    throw new Error('sync boom');
  };
  await t.throwsAsync(measure(syncThrow, { sampler }), { message: 'sync boom' });
  const { energy } = await measure(() => sleep(200), { sampler });
  assertConsistent(t, energy, await recorded());
});

test.serial('EnergyMeter: misuse throws, `using` drops the segment, `await using` reports it', async (t) => {
  const { sampler, recorded } = await fakeMachine(t);
  const idle = new EnergyMeter({ sampler });
  t.throws(() => idle.record('x'), { message: /start\(\) the EnergyMeter first/ });
  await t.throwsAsync(idle.stop(), { message: /start\(\) the EnergyMeter first/ });
  const seen: EnergyReport[] = [];
  {
    await using meter = await new EnergyMeter({ sampler, handlers: [(r) => seen.push(r)] }).start('kept');
    await t.throwsAsync(meter.start(), { message: /already started/ });
    await sleep(200);
  }
  t.deepEqual(seen.map((r) => r.tag), ['kept']);
  assertConsistent(t, seen[0], await recorded());
  {
    using meter = await new EnergyMeter({ sampler, handlers: [(r) => seen.push(r)] }).start('dropped');
    t.true(meter.running);
  }
  await sleep(20);
  t.deepEqual(seen.map((r) => r.tag), ['kept']);
});
