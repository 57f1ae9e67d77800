// The sampler is the only way to its ticks: every drain, whoever calls it, reaches every
// subscriber; the timer drains at the shortest delay asked; holds start and stop it.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler, type Batch, type SamplerOptions } from '../lib/index.js';
import { FakeWriter, fakePowercap, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

async function fakeSampler(t: import('ava').ExecutionContext, rateHz = 500, options: SamplerOptions = {}) {
  const root = tempRoot();
  const writer = await FakeWriter.start(fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 10 }]));
  const sampler = openSampler({ sysfsRoot: root, rateHz, ...options });
  t.teardown(async () => {
    sampler.close();
    await writer.stop();
    removeRoot(root);
  });
  return sampler;
}

const times = (batches: Batch[]) => batches.flatMap((b) => Array.from(b.timestampsMs));

test('every subscriber gets every tick, in order, whoever drains', async (t) => {
  const sampler = await fakeSampler(t);
  const [slow, fast, mine]: Batch[][] = [[], [], []];
  const stopSlow = sampler.subscribe((b) => slow.push(b), { maxDelayMs: 400 });
  const stopFast = sampler.subscribe((b) => fast.push(b), { maxDelayMs: 20 });
  sampler.start();
  for (let i = 0; i < 5; i++) {
    await sleep(60);
    mine.push(sampler.drain()); // a user's own drain: the subscribers get it too
  }
  sampler.stop();
  mine.push(sampler.drain());
  stopSlow();
  stopFast();
  const { ticks, dropped } = sampler.stats();
  t.is(times(slow).length, ticks - dropped);
  t.deepEqual(times(slow), times(fast));
  t.true(fast.length > mine.length, `the timer drained at the fast subscriber's 20 ms: ${fast.length} batches`);
  const all = times(fast);
  for (let i = 1; i < all.length; i++) t.true(all[i] > all[i - 1]);
  t.true(times(mine).every((ms) => all.includes(ms)), 'what drain() returned, the subscribers got');
});

test('an unsubscribed listener gets nothing more, and a drain inside a listener returns nothing', async (t) => {
  const sampler = await fakeSampler(t);
  let calls = 0;
  let inner = -1;
  const unsubscribe = sampler.subscribe(() => {
    calls++;
    inner = sampler.drain().length;
  });
  sampler.start();
  await sleep(50);
  t.is(sampler.drain().length > 0, true);
  t.is(inner, 0);
  unsubscribe();
  const before = calls;
  await sleep(250);
  sampler.drain();
  t.is(calls, before);
});

test('hold() starts a stopped sampler and stops it lingerMs after the last release; it leaves a running one running', async (t) => {
  const sampler = await fakeSampler(t);
  const first = sampler.hold({ lingerMs: 100 });
  const second = sampler.hold({ lingerMs: 100 });
  t.true(sampler.stats().running);
  first();
  first(); // releasing twice counts once
  await sleep(200);
  t.true(sampler.stats().running, 'one hold is left');
  second();
  t.true(sampler.stats().running, 'lingering');
  await sleep(300);
  t.false(sampler.stats().running);
  sampler.start();
  sampler.hold()();
  await sleep(50);
  t.true(sampler.stats().running, 'a sampler the hold did not start is not stopped by it');
});

test('subscribe checks maxDelayMs', async (t) => {
  const sampler = await fakeSampler(t);
  t.throws(() => sampler.subscribe(() => {}, { maxDelayMs: 0 }), { message: /maxDelayMs must be a number of milliseconds above 0/ });
});

test('a listener that throws keeps no other subscriber from the batch, and drain() rethrows it', async (t) => {
  const sampler = await fakeSampler(t);
  const seen: number[] = [];
  const stopBad = sampler.subscribe(() => {
    throw new Error('listener bug');
  }, { maxDelayMs: 1000 });
  const stopGood = sampler.subscribe((b) => seen.push(b.length), { maxDelayMs: 1000 });
  sampler.start();
  await sleep(50);
  const error = t.throws(() => sampler.drain());
  t.is(error?.message, 'listener bug');
  t.true(seen.length === 1 && seen[0] > 0, 'the other subscriber got the batch');
  stopBad();
  stopGood();
});

test('batches() with a consumer a ring behind keeps at most a ring of ticks, and counts the rest as dropped', async (t) => {
  const sampler = await fakeSampler(t, 1000, { bufferCapacity: 1024 });
  const stop = new AbortController();
  const yielded: number[] = [];
  for await (const batch of sampler.batches({ intervalMs: 50, signal: stop.signal })) {
    yielded.push(batch.length);
    if (yielded.length === 1) await sleep(2500); // 2.5 s behind while the timer keeps delivering
    else stop.abort();
  }
  sampler.stop();
  const rest = sampler.drain().length;
  const { ticks, dropped } = sampler.stats();
  t.true(dropped > 0, 'ticks beyond the ring were let go');
  t.true(yielded[1] < 2 * 1024, `${yielded[1]} ticks kept: under a ring plus one delivery`);
  t.is(yielded.reduce((a, b) => a + b, 0) + rest + dropped, ticks, 'every tick yielded, left in the ring or counted as dropped');
});

test('drain(maxTicks) takes at most that many, the rest waits; a bad maxTicks is refused', async (t) => {
  const sampler = await fakeSampler(t);
  sampler.start();
  while (sampler.stats().ticks < 3) await sleep(10);
  sampler.stop();
  const { ticks, dropped } = sampler.stats();
  const first = sampler.drain(2.5);
  t.is(first.length, 2);
  const rest = sampler.drain();
  t.is(first.length + rest.length, ticks - dropped, 'every tick recorded, once');
  t.true(rest.timestampsMs[0] > first.timestampsMs[1], 'in order');
  t.is(sampler.drain().length, 0);
  for (const bad of [-1, Number.NaN, null, '5']) t.throws(() => sampler.drain(bad as number), { message: /maxTicks must be a number of ticks, 0 or more; got/ });
});
