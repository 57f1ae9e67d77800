// measure() and EnergyMeter on the real native sampler, reading a fake powercap tree that
// a writer process advances at known watts.
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnergyMeter, measure, openSampler, type EnergyReport } from '../lib/index.js';
import { samplerFor } from '../lib/meter/shared.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

const WATTS: Record<string, number> = { 'package-0': 20, 'core-0': 12, 'uncore-0': 2, 'dram-0': 3, psys: 30 };

async function fakeMachine(t: ExecutionContext) {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, fiveZones({ package: 20, core: 12, uncore: 2, dram: 3, psys: 30 })), 1, { fifo: true });
  if (writer.fifoRefused) t.log(`the fake counter writer runs at normal priority: ${writer.fifoRefused}`);
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  return root;
}

// The writer is a process on a busy 2-core VM, run SCHED_FIFO where allowed: a stall of a
// few ms at either end of a segment moves energy across the boundary, so segments last a
// second and the bound is 5 %.
function assertKnownWatts(t: ExecutionContext, energy: EnergyReport) {
  for (const [name, want] of Object.entries(WATTS)) {
    const got = energy.domains[name];
    const wantJoules = (want * energy.durationMs) / 1000;
    t.true(Math.abs(got.joules - wantJoules) / wantJoules < 0.05, `${energy.tag} ${name}: ${got.joules} J, want ${wantJoules}`);
    t.true(Math.abs(got.watts - want) / want < 0.05, `${energy.tag} ${name}: ${got.watts} W, want ${want}`);
    t.true(got.resolved, `${energy.tag} ${name}: ${JSON.stringify(got)}`);
  }
}

test('measure() an async and a sync workload: joules and watts of every domain', async (t) => {
  const sysfsRoot = await fakeMachine(t);
  const slept = await measure(() => sleep(1000), { sysfsRoot });
  t.true(slept.energy.durationMs > 990, `${slept.energy.durationMs} ms`);
  assertKnownWatts(t, slept.energy);
  t.is(samplerFor(undefined, { sysfsRoot }), samplerFor(undefined, { sysfsRoot }), 'measurements with the same options share one sampler');
  const busy = await measure(
    () => {
      const end = performance.now() + 1000;
      while (performance.now() < end);
    },
    { sysfsRoot, tag: 'busy' },
  );
  t.is(busy.energy.tag, 'busy');
  assertKnownWatts(t, busy.energy);
  t.log(slept.energy.warnings.concat(busy.energy.warnings).join('\n') || 'no warnings');
});

test('a meter and concurrent measure() calls share one sampler', async (t) => {
  const sysfsRoot = await fakeMachine(t);
  using sampler = openSampler({ sysfsRoot });
  const meter = await new EnergyMeter({ sampler }).start('first');
  const [a, b] = await Promise.all([measure(() => sleep(1000), { sampler, tag: 'a' }), measure(() => sleep(1200), { sampler, tag: 'b' })]);
  meter.record('second');
  await sleep(1000);
  const trace = await meter.stop();
  for (const energy of [a.energy, b.energy, ...trace]) assertKnownWatts(t, energy);
  t.is(sampler.stats().dropped, 0);
});

test('a sub-millisecond segment on RAPL-like counters is flagged', async (t) => {
  const sysfsRoot = await fakeMachine(t);
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
