// The model source: package power estimated from CPU utilisation in a fake /proc/stat that
// the writer advances at a known busy share.
import test from 'ava';
import path from 'node:path';
import { listDomains, openSampler, powerWatts, readOnce } from '../lib/index.js';
import { fakeProcStat } from '../fixtures/fake-rapl.js';
import { drainAll, near, sleep, startWriter, testRoot } from '../fixtures/native.js';

test('the model follows CPU utilisation: idle + (max - idle) x busy share', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakeProcStat(root, 0.5));
  const options = { source: 'model', sysfsRoot: root, procRoot: path.join(root, 'proc'), modelIdleWatts: 10, modelMaxWatts: 60 } as const;
  const sampler = openSampler({ ...options, rateHz: 200 });
  t.teardown(() => sampler.close());
  t.deepEqual(sampler.domains, [{ name: 'package-0', source: 'model', path: path.join(root, 'proc', 'stat'), maxEnergyRangeUj: 0 }]);
  sampler.start();
  for (const [busy, watts] of [
    [0.5, 35],
    [1, 60],
    [0, 10],
  ]) {
    await writer.setWatts('package-0', busy);
    await sleep(100); // the model re-reads /proc/stat every 10 ms
    sampler.drain();
    await sleep(1500);
    const w = powerWatts(drainAll(sampler), 0);
    t.true(near(w, watts, 0.1), `${busy * 100} % busy: ${w} W, want ${watts}`);
  }
  t.is(sampler.stats().readErrors, 0);
  const reading = readOnce(options);
  t.is(reading.source, 'model');
  t.true(reading.domains[0].energyJoules > 0, 'an estimate since boot');
});

test('auto falls back to the model, with one line per real source saying why', (t) => {
  const root = testRoot(t);
  fakeProcStat(root, 0.2);
  const found = listDomains({ sysfsRoot: root, procRoot: path.join(root, 'proc'), msrPath: path.join(root, 'dev/cpu/%d/msr') });
  t.is(found.source, 'model');
  t.deepEqual(found.domains.map((d) => [d.name, d.source]), [['package-0', 'model']]);
  t.is(found.warnings.length, 2);
  t.is(found.warnings[0], `powercap: ${root}/class/powercap: No such file or directory (no powercap driver loaded)`);
  t.regex(found.warnings[1], /^msr: .*cpuinfo: No such file or directory/);
});
