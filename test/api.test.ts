// The public TypeScript API as a developer uses it, on a fake tree at known watts.
import test from 'ava';
import {
  concatBatches,
  listDomains,
  openSampler,
  optionsFromEnv,
  powerWatts,
  readOnce,
  windowPowerWatts,
  WattmeterError,
} from '../lib/index.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { assertBatchReadsRecord, samplerClock } from '../fixtures/truth.js';

const WATTS = { package: 20, core: 12, uncore: 2, dram: 3, psys: 30 };

async function fakeMachine(t: import('ava').ExecutionContext) {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, fiveZones(WATTS)));
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  return { root, writer };
}

test('listDomains and readOnce find the five zones', async (t) => {
  const { root } = await fakeMachine(t);
  const found = listDomains({ sysfsRoot: root });
  t.is(found.source, 'powercap');
  t.deepEqual(found.warnings, []);
  t.deepEqual(found.domains.map((d) => d.name).sort(), ['core-0', 'dram-0', 'package-0', 'psys', 'uncore-0']);
  const reading = readOnce({ sysfsRoot: root });
  t.is(reading.domains.length, 5);
  for (const d of reading.domains) t.is(d.energyJoules, d.energyUj / 1e6);
});

test('a sampler drains columns in bulk and measures the written watts', async (t) => {
  const { root, writer } = await fakeMachine(t);
  using sampler = openSampler({ sysfsRoot: root, rateHz: 500 });
  const clock = samplerClock(sampler);
  sampler.start();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const batch = sampler.drain();
  const { overruns } = sampler.stats();
  t.true(batch.length > 100 && batch.length + overruns > 900, `${batch.length} ticks, ${overruns} overruns`);
  t.is(batch.timestampsMs.length, batch.length);
  t.is(batch.energyUj.length, 5);
  for (const column of batch.energyUj) t.is(column.length, batch.length);
  // The watts the writer delivered between the values each domain read: its ticks read
  // what the files held at the time.
  assertBatchReadsRecord(t, await writer.record(), batch, clock, sampler.nowMs());
  // The window is the last 500 ms of ticks: the same as powerWatts over those ticks.
  const last = batch.length - 1;
  const first = batch.timestampsMs.findIndex((ms) => ms >= batch.timestampsMs[last] - 500);
  t.deepEqual(windowPowerWatts(batch, 500), sampler.domains.map((_, d) => powerWatts(batch, d, first, last)));
  // nowMs() is on the ticks' clock: never before a tick already drained.
  t.true(sampler.nowMs() >= batch.timestampsMs[last]);
  const stats = sampler.stats();
  t.is(stats.dropped, 0);
  t.true(stats.ticks >= batch.length);
  t.true(stats.effectiveResolutionHz['package-0'] > 0);
});

test('batches() yields at the interval until aborted, and nothing is lost between batches', async (t) => {
  const { root } = await fakeMachine(t);
  const sampler = openSampler({ sysfsRoot: root, rateHz: 200 });
  t.teardown(() => sampler.close());
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 1600);
  const batches = [];
  for await (const batch of sampler.batches({ intervalMs: 300, signal: stop.signal })) batches.push(batch);
  t.true(batches.length >= 4 && batches.length <= 7, `${batches.length} batches`);
  sampler.stop();
  const all = concatBatches([...batches, sampler.drain()]);
  for (let i = 1; i < all.length; i++) t.true(all.timestampsMs[i] > all.timestampsMs[i - 1]);
  t.is(all.length, sampler.stats().ticks - sampler.stats().dropped);
});

test('energy is cumulative from zero when the sampler opens', async (t) => {
  const { root } = await fakeMachine(t);
  using sampler = openSampler({ sysfsRoot: root, rateHz: 100 });
  sampler.start();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const batch = sampler.drain();
  for (const column of batch.energyUj) t.true(column[0] >= 0 && column[0] < 30 * 0.4 * 1e6);
});

test('a closed sampler says so, and closing twice is fine', async (t) => {
  const { root } = await fakeMachine(t);
  const sampler = openSampler({ sysfsRoot: root });
  sampler.close();
  sampler.close();
  t.true(sampler.closed);
  t.throws(() => sampler.drain(), { message: /closed/ });
});

test('bad options throw a WattmeterError naming the option', (t) => {
  t.throws(() => openSampler({ rateHz: 0 }), { instanceOf: WattmeterError, message: /rateHz must be between 1 and 100000/ });
  t.throws(() => openSampler({ sysfsRoot: '/no/such/root' }), { instanceOf: WattmeterError, message: /\/no\/such\/root does not exist/ });
  t.throws(() => optionsFromEnv({ WATTMETER_SOURCE: 'gpu' }), { message: /WATTMETER_SOURCE must be one of/ });
  t.deepEqual(optionsFromEnv({ WATTMETER_RATE_HZ: '250', WATTMETER_REALTIME: 'yes', WATTMETER_SOURCE: 'model' }), {
    rateHz: 250,
    realtime: true,
    source: 'model',
  });
});
