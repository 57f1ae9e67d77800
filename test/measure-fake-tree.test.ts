// measure() and EnergyMeter on the real native sampler, reading a fake powercap tree that
// a writer process advances at known watts.
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnergyMeter, measure, openSampler, type EnergyReport, type Sampler } from '../lib/index.js';
import { samplerFor } from '../lib/meter/shared.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { assertReportDelivered, samplerClock, tapTicks } from '../fixtures/truth.js';

async function fakeMachine(t: ExecutionContext) {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, fiveZones({ package: 20, core: 12, uncore: 2, dram: 3, psys: 30 })));
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  return { sysfsRoot: root, writer };
}

/** Checks reports against what the writer delivered, as the sampler's ticks read it. */
async function assertDelivered(t: ExecutionContext, writer: FakeWriter, sampler: Sampler, tap: ReturnType<typeof tapTicks>, reports: EnergyReport[]) {
  const record = await writer.record();
  const ticks = tap.ticks();
  const clock = samplerClock(sampler);
  for (const energy of reports) {
    assertReportDelivered(t, record, ticks, clock, sampler.nowMs(), energy);
    for (const [name, got] of Object.entries(energy.domains)) t.true(got.resolved, `${energy.tag} ${name}: ${JSON.stringify(got)}`);
  }
}

test('measure() an async and a sync workload: joules and watts of every domain', async (t) => {
  const { sysfsRoot, writer } = await fakeMachine(t);
  const shared = samplerFor(undefined, { sysfsRoot });
  const tap = tapTicks(shared);
  t.teardown(tap.stop);
  const slept = await measure(() => sleep(1000), { sysfsRoot });
  t.true(slept.energy.durationMs > 990, `${slept.energy.durationMs} ms`);
  t.is(samplerFor(undefined, { sysfsRoot }), samplerFor(undefined, { sysfsRoot }), 'measurements with the same options share one sampler');
  const busy = await measure(
    () => {
      const end = performance.now() + 1000;
      while (performance.now() < end);
    },
    { sysfsRoot, tag: 'busy' },
  );
  t.is(busy.energy.tag, 'busy');
  await assertDelivered(t, writer, shared, tap, [slept.energy, busy.energy]);
  t.log(slept.energy.warnings.concat(busy.energy.warnings).join('\n') || 'no warnings');
});

test('a meter and concurrent measure() calls share one sampler', async (t) => {
  const { sysfsRoot, writer } = await fakeMachine(t);
  using sampler = openSampler({ sysfsRoot });
  const tap = tapTicks(sampler);
  t.teardown(tap.stop);
  const meter = await new EnergyMeter({ sampler }).start('first');
  const [a, b] = await Promise.all([measure(() => sleep(1000), { sampler, tag: 'a' }), measure(() => sleep(1200), { sampler, tag: 'b' })]);
  meter.record('second');
  await sleep(1000);
  const trace = await meter.stop();
  await assertDelivered(t, writer, sampler, tap, [a.energy, b.energy, ...trace]);
  t.is(sampler.stats().dropped, 0);
});

test('a sub-millisecond segment on RAPL-like counters is flagged', async (t) => {
  const { sysfsRoot } = await fakeMachine(t);
  let energy: EnergyReport | undefined;
  for (let i = 0; i < 20 && (!energy || energy.domains['package-0'].resolved); i++) {
    energy = (await measure(() => {
      const end = performance.now() + 0.2;
      while (performance.now() < end);
    }, { sysfsRoot, rateHz: 10_000 })).energy;
  }
  t.false(energy!.domains['package-0'].resolved);
  t.is(energy!.domains['package-0'].minJoules, 0);
  t.true(energy!.domains['package-0'].joules > 0);
  t.regex(energy!.warnings.join('\n'), /shorter than the counters' update interval/);
});
