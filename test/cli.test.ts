import test from 'ava';
import { once } from 'node:events';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { wattmeter, spawnWattmeter } from '../fixtures/cli.js';
import { assertReadsRecord, monotonicMs, processClock, tickReadings } from '../fixtures/truth.js';
import {
  FakeWriter,
  energyFile,
  fakeMsr,
  fakePowercap,
  fakeProcStat,
  fiveZones,
  makeRootOnly,
  removeRoot,
  tempRoot,
} from '../fixtures/fake-rapl.js';

const NOBODY = 65534;

/** One clear line (or a short paragraph) and never a stack trace. */
function assertCleanError(t: import('ava').ExecutionContext, stderr: string, pattern: RegExp) {
  t.regex(stderr, pattern);
  t.notRegex(stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  t.true(stderr.startsWith('wattmeter: '));
}

test('usage errors exit 2 with one clear message', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  const cases: [string[], RegExp][] = [
    [['bench', '--rate', '0'], /--rate must be between 1 and 100000; got 0/],
    [['bench', '--rate=-5'], /--rate must be between 1 and 100000; got -5/],
    [['bench', '--rate', 'fast'], /--rate must be a number; got "fast"/],
    [['bench', '--rate', '200000'], /--rate must be between 1 and 100000; got 200000/],
    [['read', '--source', 'rapl'], /--source must be one of auto, powercap, perf_event, msr, model; got "rapl"/],
    [['sample', '--format', 'xml'], /--format must be one of table, csv, jsonl/],
    [['read', '--sysfs-root', path.join(root, 'missing')], /missing does not exist \(--sysfs-root \/ WATTMETER_SYSFS_ROOT\)/],
    [['frobnicate'], /Unknown command "frobnicate"/],
    [['read', '--nope'], /Unknown option --nope for `wattmeter read`\. Run `wattmeter read --help`/],
    [['sample', '--rates', '10'], /^wattmeter: Unknown option --rates for `wattmeter sample`; did you mean --rate\?/],
    [['bench', '--jsn'], /Unknown option --jsn for `wattmeter bench`; did you mean --json\?/],
    [['bench', '--duration', '-1'], /--duration needs a positive number of seconds.*; got -1\./],
    [['bench', '--duration=0'], /--duration needs a positive number of seconds.*; got 0\./],
    [['sample', '--duration'], /--duration needs a value\./],
    [['sample', '--duration', '--rate', '5'], /--duration needs a value, not the option --rate\./],
    [['bench', '--json=yes'], /--json takes no value; got "yes"/],
    [['sample', '--json'], /--json is not an option of `wattmeter sample`/],
    [['sampel'], /Unknown command "sampel"; did you mean sample\?/],
    [[], /No command given/],
  ];
  for (const [args, pattern] of cases) {
    const { code, stderr } = await wattmeter(['--sysfs-root', root, ...args]);
    t.is(code, 2, args.join(' '));
    assertCleanError(t, stderr, pattern);
  }
});

test('each command has its own help', async (t) => {
  const general = await wattmeter(['--help']);
  t.is(general.code, 0);
  t.regex(general.stdout, /^Usage: wattmeter <command>/);
  for (const [command, own] of [
    ['sample', /--format jsonl +every tick/],
    ['bench', /--duration S +how long, in seconds \(default 10\)/],
    ['read', /--json +as JSON: \{source, timestampMs, domains, warnings\}/],
    ['domains', /the model's never does/],
    ['export', /remote-write +every sample pushed/],
  ] as const) {
    const { code, stdout } = await wattmeter([command, '--help']);
    t.is(code, 0);
    t.is((await wattmeter(['help', command])).stdout, stdout);
    t.true(stdout.startsWith(`Usage: wattmeter ${command} `), command);
    t.regex(stdout, own);
    t.regex(stdout, /--sysfs-root DIR/, `${command}: the sampler's options too`);
  }
});

test('every command treats --user alike: no such user is an error before any output', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  for (const args of [['read'], ['domains'], ['sample', '--duration', '1', '--format', 'jsonl'], ['bench', '--duration', '1']]) {
    const { code, stdout, stderr } = await wattmeter([...args, '--sysfs-root', root, '--user', 'nosuchuser']);
    t.is(code, 1, args[0]);
    t.is(stdout, '', args[0]);
    assertCleanError(t, stderr, /Cannot switch to user "nosuchuser" \(WATTMETER_USER \/ --user\): no such user/);
  }
});

test('the environment configures the same options, and errors name the variable', async (t) => {
  const { code, stderr } = await wattmeter(['bench'], { env: { WATTMETER_RATE_HZ: '0' } });
  t.is(code, 2);
  assertCleanError(t, stderr, /WATTMETER_RATE_HZ must be between 1 and 100000; got 0/);
});

test('no domains is a runtime error that says where it looked', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, []);
  const { code, stderr } = await wattmeter(['read', '--source', 'powercap', '--sysfs-root', root]);
  t.is(code, 1);
  assertCleanError(t, stderr, new RegExp(`${root}/class/powercap has no RAPL zones \\(virtual machines rarely expose RAPL: use the model source for an estimate, or measure on the host\\)`));
  const none = await wattmeter(['read', '--source', 'powercap', '--sysfs-root', path.join(root, 'class')]);
  t.is(none.code, 1);
  assertCleanError(t, none.stderr, /No such file or directory \(no powercap driver loaded; virtual machines rarely expose RAPL/);
});

test('read --json shows each counter as the hardware does, in joules', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, [
    { zone: 'intel-rapl:0', name: 'package-0', watts: 0, startUj: 123456789 },
    { zone: 'intel-rapl:0:0', name: 'core', watts: 0, startUj: 42 },
  ]);
  const { code, stdout } = await wattmeter(['read', '--json', '--sysfs-root', root]);
  t.is(code, 0);
  const reading = JSON.parse(stdout);
  t.is(reading.source, 'powercap');
  const byName = Object.fromEntries(reading.domains.map((d: { name: string }) => [d.name, d]));
  t.is(byName['package-0'].energyJoules, 123.456789);
  t.is(byName['core-0'].energyJoules, 0.000042);
  t.is(byName['package-0'].path, energyFile(root, 'intel-rapl:0'));
});

test('domains lists every zone with its source and path', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  const { code, stdout } = await wattmeter(['domains', '--json', '--sysfs-root', root]);
  t.is(code, 0);
  const found = JSON.parse(stdout);
  t.deepEqual(found.domains.map((d: { name: string }) => d.name).sort(), ['core-0', 'dram-0', 'package-0', 'psys', 'uncore-0']);
  t.true(found.domains.every((d: { source: string }) => d.source === 'powercap'));
  const human = await wattmeter(['domains', '--sysfs-root', root]);
  t.regex(human.stdout, /package-0\s+powercap/);
});

test('sample --format jsonl writes one row per tick with rising timestamps and energy', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const writer = await FakeWriter.start(fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 25 }]));
  t.teardown(() => writer.stop());
  const { code, stdout } = await wattmeter(['sample', '--rate', '200', '--duration', '2', '--format', 'jsonl', '--sysfs-root', root]);
  t.is(code, 0);
  const rows = stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.deepEqual(Object.keys(rows[0]), ['timestampMs', 'energyUj']);
  t.true(Math.abs(rows[0].timestampMs - Date.now()) < 60_000, 'timestamps are ms since the epoch');
  for (let i = 1; i < rows.length; i++) t.true(rows[i].timestampMs > rows[i - 1].timestampMs);
  // Each row holds the value the file held at its tick, on the command's clock.
  const clock = processClock({ sysfsRoot: root });
  const readings = tickReadings(rows.map((r) => r.timestampMs), rows.map((r) => r.energyUj['package-0']), clock.hiMs + monotonicMs());
  assertReadsRecord(t, (await writer.record())['package-0'], readings, clock);
});

test('sample --format csv has a header naming units and one row per tick', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  const { code, stdout } = await wattmeter(['sample', '--rate', '100', '--duration', '1', '--format', 'csv', '--sysfs-root', root]);
  t.is(code, 0);
  const [header, ...rows] = stdout.trim().split('\n');
  t.is(header.split(',')[0], 'timestampMs');
  t.true(header.includes('package-0_energyUj'));
  t.true(rows.length >= 50);
  t.is(rows[0].split(',').length, 6);
});

test('sample stops cleanly on SIGINT', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  const child = spawnWattmeter(['sample', '--format', 'jsonl', '--rate', '100', '--sysfs-root', root]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  await once(child.stdout, 'data'); // running, with its handlers installed
  await new Promise((resolve) => setTimeout(resolve, 1000));
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  t.is(code, 0);
  t.true(out.trim().split('\n').length > 50);
});

test('bench --json reports the fields researchers rely on', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const writer = await FakeWriter.start(fakePowercap(root, fiveZones()));
  t.teardown(() => writer.stop());
  const { code, stdout } = await wattmeter(['bench', '--rate', '1000', '--duration', '2', '--json', '--sysfs-root', root]);
  t.is(code, 0);
  const r = JSON.parse(stdout);
  for (const key of ['rateHz', 'achievedRateHz', 'ticks', 'dropped', 'overruns', 'readErrors', 'cpuPercent']) {
    t.is(typeof r[key], 'number', key);
  }
  t.is(r.rateHz, 1000);
  // Every deadline while it ran is a tick or a counted overrun, however late a loaded
  // machine makes the thread, up to the stop. The deadlines fall on whole milliseconds from
  // the first after the start: one more or one less than the elapsed milliseconds.
  t.true(Math.abs(r.ticks + r.overruns - r.elapsedS * r.rateHz) <= 1, `${r.ticks} ticks + ${r.overruns} overruns in ${r.elapsedS} s at 1 kHz`);
  t.true(Math.abs(r.achievedRateHz - r.ticks / r.elapsedS) < 1e-6, `achieved ${r.achievedRateHz} Hz`);
  t.is(r.dropped, 0);
  t.true(r.settings.includes('timer slack 1 ns'), JSON.stringify(r.settings));
  t.true(r.latenessUs.p50 <= r.latenessUs.p99 && r.latenessUs.p99 <= r.latenessUs.max);
  t.true(r.cpuPercent > 0 && r.cpuPercent < 100);
  // The writer updates about every millisecond, like RAPL: changes well below the tick rate.
  t.true(r.effectiveResolutionHz['package-0'] > 100 && r.effectiveResolutionHz['package-0'] <= r.achievedRateHz + 1);
});

test('permission denied on energy_uj names the file and the ways out', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakePowercap(root, fiveZones());
  makeRootOnly(energyFile(root, 'intel-rapl:0'));
  const { code, stderr } = await wattmeter(['read', '--source', 'powercap', '--sysfs-root', root], { uid: NOBODY });
  t.is(code, 1);
  assertCleanError(t, stderr, new RegExp(`Permission denied reading ${energyFile(root, 'intel-rapl:0')}`));
  t.regex(stderr, /root only since Linux 5\.10/);
  t.regex(stderr, /udev rule/);
  t.regex(stderr, /WATTMETER_USER/);
});

test('--user opens root-only counters as root, then keeps reading as that user', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const writer = await FakeWriter.start(fakePowercap(root, [{ zone: 'intel-rapl:0', name: 'package-0', watts: 10 }]));
  t.teardown(() => writer.stop());
  makeRootOnly(energyFile(root, 'intel-rapl:0'));
  const args = ['sample', '--format', 'jsonl', '--rate', '100', '--duration', '1', '--source', 'powercap', '--sysfs-root', root];
  const dropped = await wattmeter([...args, '--user', 'nobody']);
  t.is(dropped.code, 0, dropped.stderr);
  const rows = dropped.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.true(rows.at(-1).energyUj['package-0'] - rows[0].energyUj['package-0'] > 5e6, 'energy keeps rising after the drop');
  // The same user cannot open the file by itself: the drop is what made it work.
  const direct = await wattmeter(args, { uid: NOBODY });
  t.is(direct.code, 1);
});

test('msr: a missing device says to load the module; a denied one says CAP_SYS_RAWIO', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  const msr = fakeMsr(root, { vendor: 'intel', packages: 1, domains: [{ register: 'package', watts: 10 }] });
  const base = ['read', '--source', 'msr', '--sysfs-root', msr.sysfsRoot, '--proc-root', msr.procRoot];
  const missing = await wattmeter([...base, '--msr-path', path.join(root, 'nodev/%d/msr')]);
  t.is(missing.code, 1);
  assertCleanError(t, missing.stderr, /modprobe msr/);
  chmodSync(msr.msrPath.replace('%d', '0'), 0o600);
  const denied = await wattmeter([...base, '--msr-path', msr.msrPath], { uid: NOBODY });
  t.is(denied.code, 1);
  assertCleanError(t, denied.stderr, /CAP_SYS_RAWIO/);
});

test('without RAPL: the model, its reasons on stderr once, in --json too; it never wraps', async (t) => {
  const root = tempRoot();
  t.teardown(() => removeRoot(root));
  fakeProcStat(root, 0.5);
  const where = ['--sysfs-root', root, '--proc-root', path.join(root, 'proc'), '--msr-path', path.join(root, 'dev/cpu/%d/msr')];
  const why = /^wattmeter: powercap: .*class\/powercap: No such file or directory \(no powercap driver loaded; virtual machines rarely expose RAPL/;
  const read = await wattmeter(['read', '--json', ...where]);
  t.is(read.code, 0, read.stderr);
  const reading = JSON.parse(read.stdout);
  t.is(reading.source, 'model');
  t.is(reading.warnings.length, 2);
  t.regex(reading.warnings[0], /^powercap: /);
  t.regex(read.stderr, why);
  t.is(read.stderr.split('\n').filter(Boolean).length, 2, 'each reason once');
  const domains = await wattmeter(['domains', ...where]);
  t.is(domains.code, 0);
  t.regex(domains.stdout, /^package-0\s+model\s+never\s+\S+proc\/stat$/m);
  const bench = await wattmeter(['bench', '--duration', '0.3', '--rate', '100', ...where]);
  t.is(bench.code, 0);
  t.regex(bench.stdout, /^source\s+model \(1 domain\)$/m);
  t.is(bench.stderr.split('\n').filter(Boolean).length, 2, 'piped: the reasons, no progress');
});

test('library errors name the option the caller used', async (t) => {
  const { listDomains } = await import('../lib/index.js');
  const error = t.throws(() => listDomains({ sysfsRoot: '/nope' }));
  t.is(error.message, '/nope does not exist (sysfsRoot): point it at the directory that holds class/powercap and devices/system/cpu.');
  const flagged = await wattmeter(['read', '--sysfs-root', '/nope']);
  t.regex(flagged.stderr, /\/nope does not exist \(--sysfs-root \/ WATTMETER_SYSFS_ROOT\)/);
  // The addon's errors too, once explained: here a GPU library that is not there.
  const nvml = t.throws(() => listDomains({ source: 'model', gpu: true, nvmlLibrary: '/nope/libnvidia-ml.so.1' }));
  t.regex(nvml.message, /^cannot load NVML \(\/nope\/libnvidia-ml\.so\.1: .*If it is elsewhere, point nvmlLibrary at it\.$/);
  const gpu = await wattmeter(['read', '--source', 'model', '--gpu', '--nvml-library', '/nope/libnvidia-ml.so.1']);
  t.is(gpu.code, 1);
  t.regex(gpu.stderr, /If it is elsewhere, point --nvml-library \/ WATTMETER_NVML_LIBRARY at it\.\n$/);
});
