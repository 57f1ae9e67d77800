// Attribution through the real sampler and its CPU-time thread, on fake /proc and cgroup
// files the test advances a step at a time (fixtures/fake-procfs.ts) and a fake powercap
// package the writer advances at known watts. Each step is written just after a round of
// reads ended and read by the next round, so every interval sees whole steps: the shares
// are then exact, and checked interval by interval.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { concatBatches, openSampler, type AttributedIntervals, type Batch, type Sampler } from '../lib/index.js';
import { fakePowercap } from '../fixtures/fake-rapl.js';
import { FAKE_CLOCK_TICKS, FakeProcfs, type FakeProcfsSpec } from '../fixtures/fake-procfs.js';
import { sleep, startWriter, testRoot } from '../fixtures/native.js';

/** A sampler on a 20 W fake package and a fake procfs; batches collected as they drain. */
async function setUp(t: ExecutionContext, spec: FakeProcfsSpec, options: Parameters<typeof openSampler>[0]) {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 20 }]));
  const procfs = new FakeProcfs(root, spec);
  const sampler = openSampler({ sysfsRoot: root, procRoot: procfs.procRoot, cgroupRoot: procfs.cgroupRoot, rateHz: 1000, ...options });
  t.teardown(() => sampler.close());
  const batches: Batch[] = [];
  sampler.follow((batch) => batches.push(batch), { maxDelayMs: 20 });
  return { root, procfs, sampler, batches };
}

/** Waits until `n` more rounds of CPU-time reads have ended. */
async function rounds(sampler: Sampler, n: number): Promise<void> {
  const until = sampler.attribution!.stats().rounds + n;
  while (sampler.attribution!.stats().rounds < until) await sleep(1);
}

/** Advances the fake files by `seconds` right after a round ended, then waits for two more. */
async function step(sampler: Sampler, procfs: FakeProcfs, seconds: number): Promise<void> {
  await rounds(sampler, 1);
  procfs.advance(seconds);
  await rounds(sampler, 2);
}

/** Drains until the attributed intervals reach past `ms` (the ticks after the last round came in). */
async function settle(sampler: Sampler, batches: Batch[]): Promise<Batch> {
  const nowMs = sampler.nowMs();
  await rounds(sampler, 2);
  for (;;) {
    sampler.drain();
    const views = batches.map((b) => b.attribution).filter(Boolean);
    const last = views.at(-1);
    const ends = [last?.processes?.endMs.at(-1), last?.cgroups?.endMs.at(-1)].filter((e) => e !== undefined) as number[];
    if (ends.length > 0 && ends.every((e) => e > nowMs)) return concatBatches(batches);
    await sleep(5);
  }
}

interface Interval {
  measuredUj: number;
  unattributedUj: number;
  /** By consumer index: energy and CPU seconds gained in the interval. */
  gained: Map<number, { uj: number; cpuS: number }>;
}

/** Each interval's own figures, from the cumulative columns. */
function intervals(view: AttributedIntervals): Interval[] {
  const out: Interval[] = [];
  const last = new Map<number, { uj: number; cpuS: number }>();
  let row = 0;
  for (let i = 0; i < view.endMs.length; i++) {
    const gained = new Map<number, { uj: number; cpuS: number }>();
    for (; row < view.rows.length && view.rows.interval[row] === i; row++) {
      const c = view.rows.consumer[row];
      const before = last.get(c) ?? { uj: 0, cpuS: 0 };
      const now = { uj: view.rows.energyUj[0][row], cpuS: view.rows.cpuSeconds[row] };
      gained.set(c, { uj: now.uj - before.uj, cpuS: now.cpuS - before.cpuS });
      last.set(c, now);
    }
    const prev = (col: Float64Array) => (i === 0 ? 0 : col[i - 1]);
    out.push({ measuredUj: view.measuredUj[0][i] - prev(view.measuredUj[0]), unattributedUj: view.unattributedUj[0][i] - prev(view.unattributedUj[0]), gained });
  }
  return out;
}

/** The per-interval law: parts + unattributed == measured, whole microjoules. */
function assertExact(t: ExecutionContext, list: Interval[]): void {
  list.forEach((iv, i) => {
    const parts = [...iv.gained.values()].reduce((a, g) => a + g.uj, 0);
    t.true(Number.isInteger(parts) && Number.isInteger(iv.unattributedUj), `interval ${i}: whole µJ`);
    t.is(parts + iv.unattributedUj, iv.measuredUj, `interval ${i}: parts + unattributed == measured`);
  });
}

test('processes: each interval split exactly by the busy ticks written; the sum is the measured energy', async (t) => {
  // Per step of 40 ms: alpha 2 ticks, beta 1, the rest of the system 1: shares 1/2 and 1/4.
  const { procfs, sampler, batches } = await setUp(
    t,
    { cpus: 2, otherCpu: 0.25, processes: [{ pid: 101, name: 'alpha', cpu: 0.5 }, { pid: 102, name: 'beta', cpu: 0.25 }] },
    { pids: [101, 102], processRateHz: 10 },
  );
  const steps = 8;
  for (let s = 0; s < steps; s++) await step(sampler, procfs, 0.04);
  const batch = await settle(sampler, batches);
  const view = batch.attribution!.processes!;
  const [alpha, beta] = batch.attribution!.consumers;
  t.like(alpha, { kind: 'process', id: '101', name: 'alpha', pid: 101, startTicks: 1101, key: 'process/101/1101', command: 'alpha' });
  const list = intervals(view);
  assertExact(t, list);
  let busy = 0;
  for (const iv of list) {
    const a = iv.gained.get(alpha.index);
    if (!a) continue;
    busy++;
    const k = Math.round(a.cpuS * FAKE_CLOCK_TICKS) / 2; // whole steps in this interval
    t.is(Math.round(iv.gained.get(beta.index)!.cpuS * FAKE_CLOCK_TICKS), k, 'beta read the same steps');
    t.is(a.uj, Math.floor(iv.measuredUj / 2), 'alpha: 2 of 4 busy ticks');
    t.is(iv.gained.get(beta.index)!.uj, Math.floor(iv.measuredUj / 4), 'beta: 1 of 4');
  }
  t.is(busy, steps, 'one interval per step held its ticks');
  // What the sampler counted is what the files held at the end.
  const totals = sampler.attribution!.totals('process')!;
  const written = procfs.writes.at(-1)!;
  t.is(totals.consumers[0].cpuSeconds * FAKE_CLOCK_TICKS, written.processTicks[101]);
  t.is(totals.consumers[1].cpuSeconds * FAKE_CLOCK_TICKS, written.processTicks[102]);
  t.is(totals.measuredUj[0], totals.unattributedUj[0] + totals.consumers[0].energyUj[0] + totals.consumers[1].energyUj[0]);
  t.deepEqual(totals.domains, ['package-0']);
});

test('cgroups: nested ones each get their own time, in ns; a removed one ends and keeps its total', async (t) => {
  const { procfs, sampler, batches } = await setUp(
    t,
    { cpus: 2, otherCpu: 0.25, cgroups: [{ path: '/a', cpu: 0.25 }, { path: '/a/x', cpu: 0.5 }, { path: '/b', cpu: 0.25 }] },
    { cgroups: true, cgroupRateHz: 10 },
  );
  for (let s = 0; s < 4; s++) await step(sampler, procfs, 0.04);
  procfs.removeCgroup('/b');
  await sleep(1100); // the next rescan sees it gone
  await step(sampler, procfs, 0.04);
  const batch = await settle(sampler, batches);
  const consumers = batch.attribution!.consumers;
  t.deepEqual(consumers.map((c) => [c.id, c.depth]), [['/a', 1], ['/a/x', 2], ['/b', 1]]);
  const [a, x, b] = consumers;
  const list = intervals(batch.attribution!.cgroups!);
  assertExact(t, list);
  let busy = 0;
  for (const iv of list) {
    if (!iv.gained.has(x.index)) continue;
    busy++;
    // Per step: /a 10 ms own + 20 ms of /a/x, /b 10 ms (while it lives), the rest 10 ms.
    const whole = iv.gained.has(b.index) ? 5 : 4;
    t.is(iv.gained.get(a.index)!.uj, Math.floor(iv.measuredUj / whole), `/a: its own 1 of ${whole}`);
    t.is(iv.gained.get(x.index)!.uj, Math.floor((iv.measuredUj * 2) / whole), `/a/x: 2 of ${whole}`);
    if (whole === 5) t.is(iv.gained.get(b.index)!.uj, Math.floor(iv.measuredUj / 5), '/b: 1 of 5');
  }
  t.is(busy, 5);
  t.false(Number.isNaN(b.endedMs), '/b ended');
  t.true(Number.isNaN(a.endedMs));
  const totals = sampler.attribution!.totals('cgroup')!;
  t.is(totals.consumers[2].cpuSeconds, 0.25 * 0.04 * 4, '/b was counted up to its removal');
  t.is(totals.consumers[0].cpuSeconds, 0.75 * 0.04 * 5, "/a's cpuSeconds are inclusive, as the kernel counts them");
});

test('cgroups under an idle parent are not read until it moves, and lose nothing: the step a child wakes in is its interval', async (t) => {
  // /c and /c/y idle: the root moves (/a), /c is read and did not, so /c/y is skipped; then /c/y burns.
  const { procfs, sampler, batches } = await setUp(
    t,
    { cpus: 2, otherCpu: 0.25, cgroups: [{ path: '/a', cpu: 0.25 }, { path: '/c', cpu: 0 }, { path: '/c/y', cpu: 0 }] },
    { cgroups: true, cgroupRateHz: 10 },
  );
  for (let s = 0; s < 3; s++) await step(sampler, procfs, 0.04);
  procfs.setCpu('/c/y', 0.5);
  for (let s = 0; s < 3; s++) await step(sampler, procfs, 0.04);
  const batch = await settle(sampler, batches);
  const [a, c, y] = batch.attribution!.consumers;
  t.deepEqual([a.id, c.id, y.id], ['/a', '/c', '/c/y']);
  const list = intervals(batch.attribution!.cgroups!);
  assertExact(t, list);
  const woken = list.filter((iv) => iv.gained.has(y.index));
  t.is(woken.length, 3, '/c/y has a row in each step it burned, none before');
  for (const iv of woken) {
    // Per step: /a 10 ms, /c/y 20 ms, the rest 10 ms; /c's usage is /c/y's, its own 0.
    t.is(Math.round(iv.gained.get(y.index)!.cpuS * 1e6), 20_000, '/c/y: the 20 ms written in this step');
    t.is(iv.gained.get(y.index)!.uj, Math.floor(iv.measuredUj / 2), '/c/y: 2 of 4');
    t.is(iv.gained.get(a.index)!.uj, Math.floor(iv.measuredUj / 4), '/a: 1 of 4');
    t.is(iv.gained.get(c.index)?.uj ?? 0, 0, '/c: none of its own');
  }
  t.is(sampler.attribution!.totals('cgroup')!.consumers[2].cpuSeconds, 0.5 * 0.04 * 3);
});

test('process rounds cut by cgroup rounds every 1 ms still end, and every process ends at the ticks its file holds', async (t) => {
  // 1000 processes (over a ms a round) and cgroup rounds every 1 ms: a process round is cut
  // by cgroup rounds and resumed. (A read put off to the next round would pass too: what
  // this checks is that cut rounds close and that no process is left unread.)
  const processes = Array.from({ length: 1000 }, (_, i) => ({ pid: 1000 + i, name: `p${i}`, cpu: (i % 7) / 100 }));
  const { procfs, sampler, batches } = await setUp(
    t,
    { cpus: 2, otherCpu: 0.25, processes, cgroups: [{ path: '/a', cpu: 0.25 }] },
    { allProcesses: true, cgroups: true, processRateHz: 10, cgroupRateHz: 1000 },
  );
  // Two process intervals end after now (so one whole round was read after it) before the
  // first write and after each. Counted by time, not from the intervals drained so far: the
  // drains lag the rounds, and a round closed during the write may not have arrived yet.
  const twoIntervals = async () => {
    const nowMs = sampler.nowMs();
    const ended = () => batches.reduce((n, b) => n + (b.attribution?.processes?.endMs.filter((ms) => ms > nowMs).length ?? 0), 0);
    while (ended() < 2) await sleep(10);
  };
  await twoIntervals();
  for (let s = 0; s < 3; s++) {
    procfs.advance(1); // whole ticks: 0 to 6 per process
    await twoIntervals();
  }
  const batch = await settle(sampler, batches);
  const totals = sampler.attribution!.totals('process')!;
  const written = procfs.writes.at(-1)!;
  const wrong = totals.consumers.filter((c) => Math.round(c.cpuSeconds * FAKE_CLOCK_TICKS) !== written.processTicks[c.consumer.pid!]);
  t.is(totals.consumers.length, 1000);
  t.deepEqual(wrong.map((c) => c.consumer.pid), [], 'every process ends at the ticks its file holds');
  assertExact(t, intervals(batch.attribution!.processes!));
  assertExact(t, intervals(batch.attribution!.cgroups!));
  t.is(sampler.attribution!.stats().readErrors, 0);
});

test('processes appear, end (zombie, reaped) and a pid is reused: each counted up to its end, none twice', async (t) => {
  const { procfs, sampler, batches } = await setUp(
    t,
    { cpus: 2, otherCpu: 0, processes: [{ pid: 201, name: 'first', cpu: 0.5 }, { pid: 202, name: 'second', cpu: 0.5 }] },
    { allProcesses: true, processRateHz: 10 },
  );
  await step(sampler, procfs, 0.04);
  procfs.addProcess({ pid: 203, name: 'late', cpu: 0.5 });
  await sleep(1100); // a rescan finds it
  await step(sampler, procfs, 0.04);
  procfs.endProcess(201); // a zombie: its final times, state Z
  await step(sampler, procfs, 0.04);
  procfs.reapProcess(202);
  procfs.reusePid({ pid: 202, name: 'reborn', cpu: 0.5, startTicks: 9999 });
  await sleep(1100); // a round reads the old one's end, then a rescan finds the new one
  await step(sampler, procfs, 0.04);
  const batch = await settle(sampler, batches);
  assertExact(t, intervals(batch.attribution!.processes!));
  const byKey = Object.fromEntries(sampler.attribution!.totals('process')!.consumers.map((c) => [c.consumer.key, c]));
  t.deepEqual(Object.keys(byKey).sort(), ['process/201/1201', 'process/202/1202', 'process/202/9999', 'process/203/1203']);
  const first = byKey['process/201/1201'];
  t.false(Number.isNaN(first.consumer.endedMs), 'the zombie ended');
  t.is(first.cpuSeconds, 0.04, 'counted up to its end: two steps of 20 ms');
  t.false(Number.isNaN(byKey['process/202/1202'].consumer.endedMs), 'the reused pid ended the old process');
  t.is(byKey['process/202/9999'].consumer.name, 'reborn');
  t.is(byKey['process/202/1202'].cpuSeconds, 0.06, 'the old process: three steps, up to its end');
  t.is(byKey['process/202/9999'].cpuSeconds, 0.02, 'the new one: the step after it was found');
  t.true(Number.isNaN(byKey['process/203/1203'].consumer.endedMs));
  t.is(byKey['process/203/1203'].cpuSeconds, 0.06, 'the late one: every step after it was found');
  t.true(sampler.attribution!.stats().ended >= 2);
});

test("an unreadable /proc/<pid> (another user's, under hidepid) is counted and warned about, once; nothing stops", async (t) => {
  const root = testRoot(t);
  const procfs = new FakeProcfs(root, { cpus: 2, otherCpu: 0, processes: [{ pid: 301, name: 'mine', cpu: 0.5 }, { pid: 302, name: 'theirs', cpu: 0.5 }, { pid: 303, name: 'theirs2', cpu: 0.5 }] });
  fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 20 }]);
  procfs.hide(302);
  procfs.hide(303);
  chmodSync(root, 0o755);
  // As nobody, like a user who cannot read root's processes.
  const script = `
    import { openSampler } from ${JSON.stringify(fileURLToPath(new URL('../lib/index.js', import.meta.url)))};
    const s = openSampler({ sysfsRoot: ${JSON.stringify(root)}, procRoot: ${JSON.stringify(procfs.procRoot)}, allProcesses: true });
    s.start(); await new Promise((r) => setTimeout(r, 300)); s.drain();
    console.log(JSON.stringify({ stats: s.attribution.stats(), names: s.attribution.consumers.map((c) => c.name) }));
    s.close();`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  t.deepEqual(out.names, ['mine']);
  t.is(out.stats.unreadable, 2);
  t.is(out.stats.warnings.length, 1, 'one warning for all of them');
  t.regex(out.stats.warnings[0], /cannot read .*\/30[23]\/stat \(EACCES\): \/proc is mounted with hidepid or the process is another user's\..*run as root/);
});

test('bad input: a pid that does not exist, a pattern matching nothing, a root that is not a cgroup mount, a bad pattern', (t) => {
  const root = testRoot(t);
  const procfs = new FakeProcfs(root, { cpus: 2, otherCpu: 0, processes: [{ pid: 401, name: 'node', cpu: 0 }] });
  fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 20 }]);
  const base = { sysfsRoot: root, procRoot: procfs.procRoot };
  t.throws(() => openSampler({ ...base, pids: [401, 999] }), {
    message: `no process has pid 999 (pids): ${procfs.procRoot}/999 does not exist. Check it with \`ps -p 999\`; a process that ends while sampled is counted up to its end.`,
  });
  using quiet = openSampler({ ...base, match: '^postgres$' });
  t.deepEqual(quiet.attribution!.stats().warnings, [
    "no process matches /^postgres$/ (match) yet: it is tried on each new process's name and command line every 1 s. Check the pattern with `pgrep -af '^postgres$'`.",
  ]);
  const notCgroup = path.join(root, 'not-a-cgroup');
  mkdirSync(notCgroup);
  t.throws(() => openSampler({ ...base, cgroups: true, cgroupRoot: notCgroup }), {
    message: new RegExp(`^${notCgroup} is not a cgroup mount: it holds neither cgroup.controllers and cpu.stat \\(v2\\) nor cpuacct.usage \\(v1\\) \\(cgroupRoot\\)\\. Point it at /sys/fs/cgroup`),
  });
  t.throws(() => openSampler({ ...base, match: '(' }), { message: /^match is not a valid regular expression: .*It is a JavaScript RegExp/ });
});
