// measure() and EnergyMeter with `self`: the calling process's attributed share beside the
// package's energy, on the fake package at 20 W, with real CPU load. What the share must
// be is read here from /proc independently, around the measured function: the package's
// energy times this process's part of the machine's busy CPU time meanwhile.
import test from 'ava';
import { EnergyMeter, measure } from '../lib/index.js';
import { busyChild, cpuTicks, systemBusyTicks } from '../fixtures/busy.js';
import { fakeTree } from '../fixtures/prometheus.js';

const BUSY_MS = 1500;

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Runs a busy function under measure(); returns the report and what /proc said meanwhile. */
async function measureBusy(sysfsRoot: string, competitor?: number) {
  let own = 0;
  let system = 0;
  let other = 0;
  const { energy } = await measure(
    () => {
      const [own0, system0, other0] = [cpuTicks('self'), systemBusyTicks(), competitor ? cpuTicks(competitor) : 0];
      busy(BUSY_MS);
      [own, system, other] = [cpuTicks('self') - own0, systemBusyTicks() - system0, competitor ? cpuTicks(competitor) - other0 : 0];
    },
    { sysfsRoot, rateHz: 500, self: true, processRateHz: 50 },
  );
  return { energy, own, system, other };
}

test.serial('alone: the process share is the package energy times its part of the busy CPU time', async (t) => {
  const { root } = await fakeTree(t);
  const { energy, own, system } = await measureBusy(root);
  const pkg = energy.domains['package-0'];
  const expected = pkg.joules * (own / system);
  t.log({ joules: pkg.joules, processJoules: pkg.processJoules, expected, ownTicks: own, systemTicks: system });
  t.deepEqual(energy.warnings, []);
  t.true(pkg.processJoules! <= pkg.joules);
  t.true(Math.abs(pkg.processJoules! - expected) <= 0.1 * expected, `${pkg.processJoules} J against ${expected} J from /proc`);
  // Only CPU domains are attributed; every one of the fake machine's is.
  for (const [name, domain] of Object.entries(energy.domains)) t.true(domain.processJoules !== undefined, name);
});

test.serial('with a competing busy process: the share follows the CPU time, about half of what the two used', async (t) => {
  const { root } = await fakeTree(t);
  const competitor = busyChild(t, 1);
  const { energy, own, system, other } = await measureBusy(root, competitor.pid);
  const pkg = energy.domains['package-0'];
  const expected = pkg.joules * (own / system);
  const bothJoules = pkg.joules * ((own + other) / system);
  t.log({ joules: pkg.joules, processJoules: pkg.processJoules, expected, bothJoules, ownTicks: own, competitorTicks: other, systemTicks: system });
  t.true(Math.abs(pkg.processJoules! - expected) <= 0.1 * expected, `${pkg.processJoules} J against ${expected} J from /proc`);
  // Two busy loops side by side get about the same CPU from the scheduler.
  const half = pkg.processJoules! / bothJoules;
  t.true(half > 0.35 && half < 0.65, `share ${half} of the two processes' energy`);
});

test.serial('EnergyMeter: each segment carries the process share; an idle segment gets little of it', async (t) => {
  const { root } = await fakeTree(t);
  const meter = new EnergyMeter({ sysfsRoot: root, rateHz: 500, self: true, processRateHz: 50 });
  await meter.start('busy');
  busy(1000);
  meter.record('idle');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const [busySegment, idleSegment] = await meter.stop();
  const [b, i] = [busySegment.domains['package-0'], idleSegment.domains['package-0']];
  t.log({ busy: b.processJoules, idle: i.processJoules, joules: [b.joules, i.joules] });
  t.true(b.processJoules! > 5 * i.processJoules!, `busy ${b.processJoules} J, idle ${i.processJoules} J`);
  t.true(b.processJoules! <= b.joules && i.processJoules! <= i.joules);
});

test.serial('without self, reports are as before: no processJoules', async (t) => {
  const { root } = await fakeTree(t);
  const { energy } = await measure(() => busy(50), { sysfsRoot: root, rateHz: 500 });
  t.false('processJoules' in energy.domains['package-0']);
});
