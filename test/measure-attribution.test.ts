// measure() and EnergyMeter with `self`: the calling process's attributed share beside the
// package's energy, on the fake package at 20 W, with real CPU load. What the share must
// be is read here from /proc independently, around the measured function: the package's
// energy times this process's part of the machine's busy CPU time meanwhile.
import test from 'ava';
import { EnergyMeter, measure } from '../lib/index.js';
import { busyChild, cpuTicks, systemBusyTicks } from '../fixtures/busy.js';
import { fakeTree } from '../fixtures/prometheus.js';

const BUSY_MS = 2000;

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
    { sysfsRoot, rateHz: 500, self: true },
  );
  return { energy, own, system, other };
}

test.serial('alone: the process share is the package energy times its part of the busy CPU time', async (t) => {
  const { root } = await fakeTree(t);
  const { energy, own, system } = await measureBusy(root);
  const pkg = energy.domains['package-0'];
  const expected = pkg.joules * (own / system);
  t.log({ joules: pkg.joules, processJoules: pkg.processJoules, expected, ownTicks: own, systemTicks: system });
  // Two seconds hold enough CPU-time rounds: no warning that the share is coarse.
  t.false(energy.warnings.some((w) => w.includes('processJoules')), energy.warnings.join('\n'));
  t.true(pkg.processJoules! <= pkg.joules);
  t.true(Math.abs(pkg.processJoules! - expected) <= 0.1 * expected, `${pkg.processJoules} J against ${expected} J from /proc`);
  // Only CPU domains are attributed; every one of the fake machine's is.
  for (const [name, domain] of Object.entries(energy.domains)) t.true(domain.processJoules !== undefined, name);
});

test.serial('with a competing busy process: the share follows the CPU time, its part of what the two used', async (t) => {
  const { root } = await fakeTree(t);
  const competitor = await busyChild(t, 1);
  const { energy, own, system, other } = await measureBusy(root, competitor.pid);
  const pkg = energy.domains['package-0'];
  const expected = pkg.joules * (own / system);
  const bothJoules = pkg.joules * ((own + other) / system);
  t.log({ joules: pkg.joules, processJoules: pkg.processJoules, expected, bothJoules, ownTicks: own, competitorTicks: other, systemTicks: system });
  t.true(Math.abs(pkg.processJoules! - expected) <= 0.1 * expected, `${pkg.processJoules} J against ${expected} J from /proc`);
  // Of what the two busy loops were given, this one's part is its part of their CPU time
  // (about half on a quiet machine; a loaded one need not share fairly).
  const part = pkg.processJoules! / bothJoules;
  const cpuPart = own / (own + other);
  t.true(Math.abs(part - cpuPart) <= 0.1 * cpuPart, `share ${part} of the two processes' energy, against their CPU ${cpuPart}`);
});

test.serial('EnergyMeter: each segment carries the process share; the busy one as /proc predicts, the idle one a part', async (t) => {
  const { root } = await fakeTree(t);
  const meter = new EnergyMeter({ sysfsRoot: root, rateHz: 500, self: true });
  await meter.start('busy');
  const [own0, system0] = [cpuTicks('self'), systemBusyTicks()];
  busy(2000);
  const [own, system] = [cpuTicks('self') - own0, systemBusyTicks() - system0];
  meter.record('idle');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const [busySegment, idleSegment] = await meter.stop();
  const [b, i] = [busySegment.domains['package-0'], idleSegment.domains['package-0']];
  const expected = b.joules * (own / system);
  t.log({ busy: b.processJoules, expected, idle: i.processJoules, joules: [b.joules, i.joules] });
  t.true(Math.abs(b.processJoules! - expected) <= 0.1 * expected, `busy: ${b.processJoules} J against ${expected} J from /proc`);
  // Idle, the split is of whatever little was busy per round (idle power goes to the busy),
  // so no steady ratio predicts it: it is a part. Nor need it be less than the busy one's:
  // ava runs other test files in this process meanwhile, and beside a hog they made the
  // process's share of the machine larger idle (12.5 J) than busy (11.1 J).
  t.true(i.processJoules! > 0 && i.processJoules! <= i.joules);
});

test.serial('without self, reports are as before: no processJoules', async (t) => {
  const { root } = await fakeTree(t);
  const { energy } = await measure(() => busy(50), { sysfsRoot: root, rateHz: 500 });
  t.false('processJoules' in energy.domains['package-0']);
});

test.serial('a segment shorter than ten CPU-time rounds says its share is coarse', async (t) => {
  const { root } = await fakeTree(t);
  const { energy } = await measure(() => busy(300), { sysfsRoot: root, rateHz: 500, self: true });
  t.true(energy.domains['package-0'].processJoules! >= 0);
  t.true(energy.warnings.some((w) => /^processJoules: only \d rounds of CPU-time reads fell inside the segment/.test(w)), energy.warnings.join('\n'));
});
