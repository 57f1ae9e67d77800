// Attribution of real processes on this machine: two children keep about 75 % and 25 % of
// one CPU busy (the second a third of the first's CPU time), each in a cgroup the test
// creates under the real cgroup tree (cgroup v1's cpuacct here, v2 where that is what the
// machine mounts) and removes after; the package is the fake powercap one at a known
// power. Both views split it as the kernel counted the children's CPU time meanwhile (a
// loaded machine bends the 3 : 1 the children aim at), and the parts and the unattributed
// rest add up to the measured energy exactly.
import test from 'ava';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { concatBatches, openSampler, type Batch } from '../lib/index.js';
import { findHierarchy } from '../lib/attribution/cgroup-tree.js';
import { busyChild, cgroupUsageNs, cpuTicks } from '../fixtures/busy.js';
import { fakePowercap } from '../fixtures/fake-rapl.js';
import { sleep, startWriter, testRoot } from '../fixtures/native.js';

test('two busy children at 75 % and 25 % of a CPU, in their own cgroups: both views split as their CPU time, the sum exact', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 30 }]));
  const hierarchy = findHierarchy('/sys/fs/cgroup', 'cgroupRoot');
  const parent = path.join(hierarchy.mount, `wattmeter-test-${process.pid}`);
  // Runs after the children's own teardowns (ava runs them last first): a cgroup with a
  // process in it cannot be removed.
  t.teardown(() => {
    for (const dir of ['high', 'low', '']) if (existsSync(path.join(parent, dir))) rmdirSync(path.join(parent, dir));
  });
  mkdirSync(path.join(parent, 'high'), { recursive: true });
  mkdirSync(path.join(parent, 'low'));
  // The low one follows the high one's CPU time, so a loaded machine keeps their 3 : 1.
  const high = await busyChild(t, 0.75);
  const low = await busyChild(t, 1 / 3, high);
  writeFileSync(path.join(parent, 'high', 'cgroup.procs'), String(high.pid));
  writeFileSync(path.join(parent, 'low', 'cgroup.procs'), String(low.pid));

  using sampler = openSampler({ sysfsRoot: root, pids: [high.pid, low.pid], cgroups: true, cgroupDepth: 2, rateHz: 1000 });
  const batches: Batch[] = [];
  // What the kernel counts for each child meanwhile: processes in clock ticks, cgroups in ns.
  const counted = () => [cpuTicks(high.pid), cpuTicks(low.pid), cgroupUsageNs(path.join(parent, 'high')), cgroupUsageNs(path.join(parent, 'low'))];
  const before = counted();
  const stop = sampler.follow((batch) => batches.push(batch), { maxDelayMs: 50 });
  await sleep(3000);
  stop();
  sampler.drain();
  const [highTicks, lowTicks, highNs, lowNs] = counted().map((value, i) => value - before[i]);
  const attribution = sampler.attribution!;
  t.deepEqual(attribution.stats().warnings, []);

  const processes = attribution.totals('process')!;
  const [p75, p25] = processes.consumers.map((c) => c.energyUj[0]);
  t.log(`processes: ${p75} µJ and ${p25} µJ (${(p75 / p25).toFixed(2)} : 1), CPU ${highTicks} and ${lowTicks} ticks (${(highTicks / lowTicks).toFixed(2)} : 1)`);
  t.true(Math.abs(p75 / p25 / (highTicks / lowTicks) - 1) <= 0.1, `processes ${p75 / p25} : 1, CPU ${highTicks / lowTicks} : 1`);
  t.is(processes.measuredUj[0], processes.unattributedUj[0] + p75 + p25);

  const cgroups = attribution.totals('cgroup')!;
  const energyOf = (id: string) => cgroups.consumers.find((c) => c.consumer.id === id)!.energyUj[0];
  const g75 = energyOf(`/wattmeter-test-${process.pid}/high`);
  const g25 = energyOf(`/wattmeter-test-${process.pid}/low`);
  t.log(`cgroups: ${g75} µJ and ${g25} µJ (${(g75 / g25).toFixed(2)} : 1) of ${cgroups.measuredUj[0]} µJ, CPU ${(highNs / lowNs).toFixed(2)} : 1`);
  t.true(Math.abs(g75 / g25 / (highNs / lowNs) - 1) <= 0.1, `cgroups ${g75 / g25} : 1, CPU ${highNs / lowNs} : 1`);
  t.is(cgroups.measuredUj[0], cgroups.unattributedUj[0] + cgroups.consumers.reduce((sum, c) => sum + c.energyUj[0], 0));

  // The measured energy is the package counter's, interpolated at each interval end, to the microjoule.
  const batch = concatBatches(batches);
  const view = batch.attribution!.processes!;
  t.true(view.endMs.length > 20);
  const at = (ms: number) => Math.round(energyAtTime(batch, ms));
  for (let i = 1; i < view.endMs.length; i++) {
    t.is(view.measuredUj[0][i] - view.measuredUj[0][0], at(view.endMs[i]) - at(view.endMs[0]), `interval ${i}`);
  }
});

/** The package counter at `ms`, linear between the ticks around it. */
function energyAtTime(batch: Batch, ms: number): number {
  const i = batch.timestampsMs.findIndex((tick) => tick >= ms);
  const [t0, t1, e0, e1] = [batch.timestampsMs[i - 1], batch.timestampsMs[i], batch.energyUj[0][i - 1], batch.energyUj[0][i]];
  return e0 + ((e1 - e0) * (ms - t0)) / (t1 - t0);
}
