// The model source: package power estimated from CPU utilisation in a fake /proc/stat that
// the writer advances at a known busy share.
import test from 'ava';
import path from 'node:path';
import { concatBatches, listDomains, measure, openSampler, powerWatts, readOnce, type Batch } from '../lib/index.js';
import { fakeProcStat } from '../fixtures/fake-rapl.js';
import { drainAll, sleep, startWriter, testRoot } from '../fixtures/native.js';

test('the model follows CPU utilisation: idle + (max - idle) x busy share', async (t) => {
  const root = testRoot(t);
  // Two CPUs at 0, 50 or 100 % busy: every change of the jiffies the writer makes has
  // exactly that busy share (at 50 %, busy and idle are the same floor of the same
  // number), so each re-read of /proc/stat gives the model the exact utilisation, however
  // far apart the writer's updates come.
  const writer = await startWriter(t, fakeProcStat(root, 0.5, 2));
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
    // The model's counter moves when /proc/stat does. The first move after the change
    // mixes both shares; from the next one on, every move is at the new power. How soon
    // that comes depends on the machine's load.
    let batch = drainAll(sampler);
    let from = firstAt(batch, watts);
    for (let tries = 0; from < 0 && tries < 500; tries++) {
      await sleep(20);
      batch = concatBatches([batch, drainAll(sampler)]);
      from = firstAt(batch, watts);
    }
    t.true(from >= 0, `${busy * 100} % busy: the model never showed ${watts} W`);
    await sleep(1500);
    batch = concatBatches([batch, drainAll(sampler)]);
    const moves = knots(batch).filter((i) => i >= from);
    t.true(moves.length > 50, `${moves.length} moves in 1.5 s`);
    const off = [];
    for (let k = 1; k < moves.length; k++) if (!atPower(batch, moves[k - 1], moves[k], watts)) off.push(powerWatts(batch, 0, moves[k - 1], moves[k]));
    t.deepEqual(off, [], `${busy * 100} % busy: moves off ${watts} W after ${batch.length - from} ticks`);
  }
  t.is(sampler.stats().readErrors, 0);
  const reading = readOnce(options);
  t.is(reading.source, 'model');
  t.true(reading.domains[0].energyJoules > 0, 'an estimate since boot');
});

/**
 * The model integrates its power over the exact nanoseconds between two moves of its
 * input; the stamps are epoch ms in doubles, each rounded to an ulp (0.24 us), so the
 * power between two moves reads back exact to two ulps over the interval.
 */
function atPower(batch: Batch, i: number, j: number, watts: number): boolean {
  const t1 = batch.timestampsMs[j];
  const ulp = 2 ** (Math.floor(Math.log2(t1)) - 52);
  const w = powerWatts(batch, 0, i, j);
  return Math.abs(w - watts) <= (watts * 2 * ulp) / (t1 - batch.timestampsMs[i]) + 1e-9;
}

/** The ticks where the model's counter moved. */
function knots(batch: Batch): number[] {
  const energy = batch.energyUj[0];
  return Array.from({ length: batch.length }, (_, i) => i).filter((i) => i > 0 && energy[i] !== energy[i - 1]);
}

/** The move that ends the first interval between moves at the power, or -1. */
function firstAt(batch: Batch, watts: number): number {
  const moves = knots(batch);
  for (let k = 1; k < moves.length; k++) if (atPower(batch, moves[k - 1], moves[k], watts)) return moves[k - 1];
  return -1;
}

test('the model resolves no finer than /proc/stat: its clock tick, and a shorter segment is unresolved', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakeProcStat(root, 0.5, 2));
  const sampler = openSampler({ source: 'model', sysfsRoot: root, procRoot: path.join(root, 'proc'), rateHz: 1000 });
  t.teardown(() => sampler.close());
  sampler.start();
  await sleep(300);
  // A busy machine can stretch any segment past 10 ms, so the segment is measured again
  // until one really was shorter than the counter's update interval (a no-op takes
  // microseconds; a retry is rare).
  const seen: string[] = [];
  let short;
  for (let attempt = 0; attempt < 20 && short === undefined; attempt++) {
    const { energy } = await measure(() => {}, { sampler, tag: 'short' });
    const { resolved, updateIntervalMs } = energy.domains['package-0'];
    seen.push(`${energy.durationMs.toFixed(3)} ms: ${resolved ? 'resolved' : 'unresolved'}, updates every ${updateIntervalMs.toFixed(1)} ms`);
    if (energy.durationMs < updateIntervalMs) short = energy.domains['package-0'];
  }
  await sleep(700);
  const { effectiveResolutionHz, elapsedS } = sampler.stats();
  // USER_HZ is 100 on every Linux: /proc/stat is read at most once per 10 ms.
  t.true(effectiveResolutionHz['package-0'] > 0 && effectiveResolutionHz['package-0'] <= 100 + 1 / elapsedS, `${effectiveResolutionHz['package-0']} Hz`);
  t.truthy(short, `no segment came out shorter than the update interval: ${seen.join('; ')}`);
  t.false(short!.resolved, seen.join('; '));
  t.true(short!.updateIntervalMs >= 9, seen.join('; '));
});

test('auto falls back to the model, with one line per real source saying why', (t) => {
  const root = testRoot(t);
  fakeProcStat(root, 0.2);
  const found = listDomains({ sysfsRoot: root, procRoot: path.join(root, 'proc'), msrPath: path.join(root, 'dev/cpu/%d/msr') });
  t.is(found.source, 'model');
  t.deepEqual(found.domains.map((d) => [d.name, d.source]), [['package-0', 'model']]);
  t.is(found.warnings.length, 2);
  t.is(found.warnings[0], `powercap: ${root}/class/powercap: No such file or directory (no powercap driver loaded; virtual machines rarely expose RAPL: use the model source for an estimate, or measure on the host)`);
  t.regex(found.warnings[1], /^msr: .*cpuinfo: No such file or directory/);
});
