// The addon's contract with JavaScript: drains, stats, errors, worker threads, and a
// sampler that is never closed.
import test from 'ava';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { release } from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { addon, type NativeOptions, type NativeSampler } from '../lib/native.js';
import type { NativeError } from '../lib/errors.js';
import { resolveSamplerOptions, resolveSourceOptions } from '../lib/options.js';
import { energyFile, fakePowercap, fiveZones } from '../fixtures/fake-rapl.js';
import { sleep, startWriter, testRoot } from '../fixtures/native.js';
import { assertReadsRecord, processClock, tickReadings } from '../fixtures/truth.js';

const LIB = fileURLToPath(new URL('../lib/', import.meta.url));

/** Every tick waiting, column-major, as the addon lays them out (5 domains). */
function drainWaiting(sampler: NativeSampler): Float64Array {
  const columns = new Float64Array(sampler.pending() * 6);
  sampler.drain(columns);
  return columns;
}

test('drain moves ticks out column-major, at most maxTicks, with rising wall-clock timestamps', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, fiveZones()));
  const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: root, rateHz: 1000 }));
  t.teardown(() => sampler.close());
  const startedMs = Date.now();
  sampler.start();
  await sleep(300);
  const first = new Float64Array(10 * 6);
  t.is(sampler.drain(first), 10, 'as many as fit');
  const waiting = sampler.pending();
  t.true(waiting > 10);
  const rest = new Float64Array((waiting + 1000) * 6);
  const n = sampler.drain(rest);
  t.true(n >= waiting && n < waiting + 1000, 'those waiting, laid out for n ticks');
  t.true(rest.subarray(n * 6).every((x) => x === 0), 'nothing past them');
  const timestamps = [...first.subarray(0, 10), ...rest.subarray(0, n)];
  for (let i = 1; i < timestamps.length; i++) t.true(timestamps[i] > timestamps[i - 1]);
  t.true(Math.abs(timestamps[0] - startedMs) < 1000, 'ms since the epoch');
  t.true(timestamps.some((ms) => !Number.isInteger(ms)), 'sub-millisecond precision');
  // Deadlines on whole milliseconds: however late a tick wakes, it keeps its millisecond
  // (a whole period late skips the next deadline), so none is folded by an exporter.
  for (let i = 1; i < timestamps.length; i++) t.true(Math.floor(timestamps[i]) > Math.floor(timestamps[i - 1]), `${timestamps[i - 1]}, ${timestamps[i]}`);
  t.is(sampler.stats().ticksSharingMs, 0);
  // Each domain's column is cumulative: it never falls.
  for (let d = 1; d <= 5; d++) {
    for (let i = 1; i < n; i++) t.true(rest[d * n + i] >= rest[d * n + i - 1]);
  }
  t.is(sampler.drain(new Float64Array(0)), 0);
  t.throws(() => sampler.drain(new Array(6) as unknown as Float64Array), { message: /Float64Array/ });
});

test('stats: ticks, lateness, how often each value changed, and realtime or why not', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, fiveZones()));
  const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: root, rateHz: 2000, realtime: true }));
  t.teardown(() => sampler.close());
  sampler.start();
  await sleep(1000);
  sampler.stop();
  const s = sampler.stats();
  t.false(s.running);
  // Every deadline up to the stop is either a tick or an overrun. They fall every 0.5 ms
  // from the first whole millisecond after the start: up to two fewer than the elapsed
  // half-milliseconds, or one more.
  const deadlines = s.ticks + s.overruns;
  t.true(deadlines <= 2000 * s.elapsedS + 1 && deadlines >= 2000 * s.elapsedS - 2, `${deadlines} deadlines in ${s.elapsedS} s`);
  t.is(s.dropped, 0);
  t.is(s.readErrors, 0);
  t.true(s.latenessUs.p50 > 0 && s.latenessUs.p50 <= s.latenessUs.p99 && s.latenessUs.p99 <= s.latenessUs.max);
  // The writer updates every millisecond: each value changes on fewer ticks than are read.
  t.is(s.changes.length, 5);
  for (const changes of s.changes) t.true(changes > 100 && changes < s.ticks, `${changes} changes`);
  t.true(s.realtime || s.notes.some((note) => /SCHED_FIFO/.test(note)), JSON.stringify(s.notes));
  t.is(s.settings.includes('SCHED_FIFO priority 10'), s.realtime);
  // At 2 kHz two ticks fall in most milliseconds: the count is what the timestamps show.
  const columns = drainWaiting(sampler);
  const n = columns.length / 6;
  t.is(n, s.ticks);
  let sharing = 0;
  for (let i = 1; i < n; i++) if (Math.floor(columns[i]) === Math.floor(columns[i - 1])) sharing++;
  t.is(s.ticksSharingMs, sharing);
  t.true(sharing > n / 3, `${sharing} of ${n} ticks share a millisecond`);
  // Stopped time does not count.
  await sleep(300);
  t.is(sampler.stats().elapsedS, s.elapsedS);
});

test('stop and start again: the energy stays cumulative and the time stopped is not counted', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones()));
  const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: root, rateHz: 500 }));
  t.teardown(() => sampler.close());
  // Runs the sampler for a while on frozen counters, and says for how long at most.
  const runFrozen = async () => {
    await writer.pause();
    const before = performance.now();
    sampler.start();
    await sleep(100);
    sampler.stop();
    const columns = drainWaiting(sampler);
    return { columns, n: columns.length / 6, ms: performance.now() - before };
  };
  const first = await runFrozen();
  const stopped = await writer.snapshot();
  await writer.resume();
  await sleep(300); // the writer delivers energy while the sampler is stopped
  await writer.pause();
  const restarted = await writer.snapshot();
  const second = await runFrozen();
  await writer.resume();

  t.true(second.columns[0] > first.columns[first.n - 1] + 250, 'the gap shows in the timestamps');
  sampler.domains.forEach((domain, d) => {
    // The energy of the stopped spell is all in the first tick after it: cumulative.
    const gapUj = second.columns[(d + 1) * second.n] - first.columns[(d + 1) * first.n + first.n - 1];
    const deliveredUj = (restarted[domain.name].energyJ - stopped[domain.name].energyJ) * 1e6;
    t.true(Math.abs(gapUj - deliveredUj) <= 1, `${domain.name}: ${gapUj} uJ across the gap, ${deliveredUj} delivered`);
  });
  const { elapsedS } = sampler.stats();
  t.true(elapsedS > 0.2 && elapsedS * 1000 <= first.ms + second.ms, `${elapsedS} s running`);
});

test('realtime scheduling refused: the sampler runs anyway and says why', async (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  // Another user, without CAP_SYS_NICE or an RLIMIT_RTPRIO: SCHED_FIFO is refused.
  const script = `
    import { addon } from '${LIB}native.js';
    import { resolveSamplerOptions } from '${LIB}options.js';
    const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: ${JSON.stringify(root)}, realtime: true }));
    sampler.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { realtime, notes, settings, ticks } = sampler.stats();
    sampler.close();
    console.log(JSON.stringify({ realtime, notes, settings, ticks }));`;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534 }, (error, out, err) =>
      error ? reject(new Error(err)) : resolve(out),
    ),
  );
  const out = JSON.parse(stdout);
  t.false(out.realtime);
  t.true(out.ticks > 0);
  t.regex(out.notes.at(-1), /SCHED_FIFO\) refused: Operation not permitted; it needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO/);
  // What needs no privilege is in force anyway; the slice where the kernel has it (6.12+).
  const [major, minor] = release().split('.').map(Number);
  const slices = major > 6 || (major === 6 && minor >= 12);
  t.deepEqual(out.settings, slices ? ['timer slack 1 ns', 'EEVDF slice 0.1 ms'] : ['timer slack 1 ns']);
  t.is(out.notes.length, slices ? 1 : 2, JSON.stringify(out.notes));
});

test('errors carry a code and the file at fault', (t) => {
  const root = testRoot(t);
  const options = (extra: Partial<NativeOptions>) => ({ ...resolveSourceOptions({ sysfsRoot: root, procRoot: root }), ...extra });
  fakePowercap(root, []);
  const none = t.throws<NativeError>(() => addon().discover(options({ source: 'powercap' })));
  t.like(none, { code: 'WATTMETER_NO_DOMAINS', path: `${root}/class/powercap` });

  fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 0 }]);
  writeFileSync(energyFile(root, 'intel-rapl:0'), 'n/a\n');
  const bad = t.throws<NativeError>(() => addon().readOnce(options({ source: 'powercap' })));
  t.like(bad, { code: 'WATTMETER_BAD_FILE', path: energyFile(root, 'intel-rapl:0') });

  const noStat = t.throws<NativeError>(() => addon().discover(options({ source: 'model' })));
  t.like(noStat, { code: 'ENOENT', path: `${root}/stat` });

  const typo = t.throws<NativeError>(() => new (addon().Sampler)({ ...options({}), rateHz: 1000, realtime: false } as never));
  t.is(typo.name, 'TypeError');
  t.regex(typo.message, /options\.capacity is missing/);
});

test('a closed sampler says so; closing twice is fine', async (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: root }));
  sampler.start();
  sampler.close();
  sampler.close();
  for (const call of [() => sampler.start(), () => sampler.pending(), () => sampler.stats()]) {
    t.regex(t.throws<NativeError>(call).message, /closed/);
  }
});

test('the addon works in a worker thread, and a worker ending with its sampler running is clean', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones()));
  const code = `
    import { parentPort } from 'node:worker_threads';
    import { addon } from '${pathToFileURL(`${LIB}native.js`).href}';
    import { resolveSamplerOptions } from '${pathToFileURL(`${LIB}options.js`).href}';
    const sampler = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: ${JSON.stringify(root)}, rateHz: 1000 }));
    sampler.start();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const columns = new Float64Array(sampler.pending() * 6);
    const n = sampler.drain(columns);
    parentPort.postMessage({ stampsMs: columns.slice(0, n), uj: columns.slice(n, 2 * n), endMs: sampler.nowMs() });
    // Never closed: the worker's cleanup must stop the thread.
    if (process.argv.includes('--linger')) setInterval(() => {}, 1000);`;
  const run = async (linger: boolean) => {
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { argv: linger ? ['--linger'] : [] });
    const signal = AbortSignal.timeout(30_000); // fail clearly rather than hang the file
    // Listening for 'exit' before the message: a worker that ends at once may have its
    // message and its exit delivered in one go, before a listener added after the message
    // could see the exit (a loaded machine hung this test that way, 1 run in 20).
    const exited = once(worker, 'exit', { signal });
    const [ticks] = await once(worker, 'message', { signal });
    if (linger) await worker.terminate();
    const [exitCode] = await exited;
    return { ticks: ticks as { stampsMs: Float64Array; uj: Float64Array; endMs: number }, exitCode: exitCode as number };
  };
  const [ended, terminated] = await Promise.all([run(false), run(true)]);
  t.is(ended.exitCode, 0, 'a running sampler does not keep a worker alive');
  t.is(terminated.exitCode, 1);
  // The worker's sampler read package-0 as the file held it (any sampler has its clock).
  const [record, clock] = [(await writer.record())['package-0'], processClock({ sysfsRoot: root })];
  for (const { ticks } of [ended, terminated]) assertReadsRecord(t, record, tickReadings(ticks.stampsMs, ticks.uj, ticks.endMs), clock);
});

test('a sampler left open does not keep the process alive, or crash it at exit', async (t) => {
  const root = testRoot(t);
  await startWriter(t, fakePowercap(root, fiveZones()));
  const run = (rateHz: number, ending: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const script = `
        import { addon } from '${LIB}native.js';
        import { resolveSamplerOptions } from '${LIB}options.js';
        new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: ${JSON.stringify(root)}, rateHz: ${rateHz} })).start();
        setTimeout(() => { console.log('done'); ${ending} }, 200);`;
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });
  // The event loop empties; process.exit() with the thread mid-tick; a 1 Hz thread asleep.
  for (const result of await Promise.all([run(10_000, ''), run(10_000, 'process.exit(0);'), run(1, '')])) {
    t.deepEqual(result, { code: 0, stdout: 'done\n', stderr: '' });
  }
});
