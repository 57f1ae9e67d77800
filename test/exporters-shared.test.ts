// Subscribers and measurements on one sampler: the ring has a single consumer, so the
// sampler hands every drain to every subscriber, whoever drains, and none starves another.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { concatBatches, measure, openSampler, type Batch } from '../lib/index.js';
import { FakeWriter, fakePowercap, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { assertReportDelivered, samplerClock } from '../fixtures/truth.js';

test('a subscriber, concurrent measure() calls and a raw drain() on one sampler lose no tick to each other', async (t) => {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 40 }]));
  const sampler = openSampler({ sysfsRoot: root, rateHz: 500 });
  t.teardown(async () => {
    sampler.close();
    await writer.stop();
    removeRoot(root);
  });

  const clock = samplerClock(sampler);
  const drained: Batch[] = [];
  const unsubscribe = sampler.subscribe((batch) => drained.push(batch), { maxDelayMs: 100 });
  sampler.start();
  const [a, b] = await Promise.all([
    measure(() => sleep(400), { sampler }),
    measure(() => sleep(600), { sampler }),
    sleep(300).then(() => sampler.drain()), // a user's own drain takes nothing from the others
  ]);
  await sleep(200);
  sampler.stop();
  sampler.drain();
  unsubscribe();

  const seen = drained.reduce((n, batch) => n + batch.length, 0);
  const { ticks, dropped } = sampler.stats();
  t.is(seen, ticks - dropped, 'the subscriber saw every tick the ring held');
  // The subscriber's ticks are the sampler's: each report holds what the writer delivered.
  const record = await writer.record();
  for (const { energy } of [a, b]) assertReportDelivered(t, record, concatBatches(drained), clock, sampler.nowMs(), energy);
});
