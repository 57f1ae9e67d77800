// The live table of `wattmeter sample`, frame by frame, from batches drained as the command
// drains them (the terminal itself is tested through tmux in cli-tty.test.ts).
import test from 'ava';
import { openSampler } from '../lib/index.js';
import { energySinceStart } from '../lib/cli/sample.js';
import type { Frame } from '../lib/cli/live-view.js';
import { fakePowercap, fiveZones } from '../fixtures/fake-rapl.js';
import { sleep, startWriter, testRoot } from '../fixtures/native.js';

const WATTS = { 'package-0': 20, 'core-0': 12, 'uncore-0': 2, 'dram-0': 3, psys: 30 };

test('a last batch of one tick or none, as drained at Ctrl-C, shows the power across the tick before, never NaN', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, fiveZones()));
  const sampler = openSampler({ sysfsRoot: root, rateHz: 200 });
  t.teardown(() => sampler.close());
  const frameOf = energySinceStart(sampler, 500);
  sampler.start();
  await sleep(600);
  const rows = (frame: Frame) =>
    new Map(frame(120).slice(1, 1 + sampler.domains.length).map((line) => {
      const [name, watts, joules] = line.trim().split(/\s+/);
      return [name, { watts: Number(watts), joules: Number(joules) }] as const;
    }));
  const before = rows(frameOf(sampler.drain()));
  await sleep(50);
  for (const [what, batch] of [['one tick', sampler.drain(1)], ['no tick', sampler.drain(0)]] as const) {
    const shown = rows(frameOf(batch));
    const packageW = shown.get('package-0')!.watts;
    for (const [name, written] of Object.entries(WATTS)) {
      const { watts, joules } = shown.get(name)!;
      // The writer advances every counter in one write: the powers stand as the watts written.
      t.true(Math.abs(watts / packageW / (written / WATTS['package-0']) - 1) < 0.01, `${what}: ${name} ${watts} W to package-0's ${packageW} W`);
      t.true(joules >= before.get(name)!.joules, `${what}: ${name} ${joules} J, before ${before.get(name)!.joules} J`);
    }
  }
});
