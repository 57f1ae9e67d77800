// An exporter and measurements on one sampler: the ring has a single consumer, so both
// must be served by the sampler's feed, each getting every tick.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { measure, openSampler, type Batch } from '../lib/index.js';
import { drainEvery } from '../lib/exporters/drain.js';
import { FakeWriter, fakePowercap, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

test('an exporter drain and concurrent measure() calls on one sampler lose no tick to each other', async (t) => {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 40 }]));
  const sampler = openSampler({ sysfsRoot: root, rateHz: 500 });
  t.teardown(async () => {
    sampler.close();
    await writer.stop();
    removeRoot(root);
  });

  const drained: Batch[] = [];
  const drainer = drainEvery(sampler, 100, (batch) => drained.push(batch));
  const [a, b] = await Promise.all([
    measure(() => sleep(400), { sampler }),
    measure(() => sleep(600), { sampler }),
  ]);
  await sleep(200);
  sampler.stop();
  drainer.stop();

  const seen = drained.reduce((n, batch) => n + batch.length, 0);
  const { ticks, dropped } = sampler.stats();
  t.is(seen, ticks - dropped, 'the exporter saw every tick the ring held');
  for (const { energy } of [a, b]) {
    const { joules, watts } = energy.domains['package-0'];
    t.true(joules > 0);
    t.true(Math.abs(watts - 40) / 40 < 0.15, `${watts} W while the writer delivered 40 W`);
  }
});
