// NVIDIA GPUs through NVML, against a fake libnvidia-ml.so.1 built here whose energy
// advances at known watts; the real library only where a driver is installed.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { listDomains, measure, optionsFromEnv, powerWatts, readOnce, WattmeterError } from '../lib/index.js';
import { fakePowercap, fiveZones } from '../fixtures/fake-rapl.js';
import { buildFakeNvml } from '../fixtures/fake-nvml.js';
import { assertEnergy, assertTicksRead, measureExactly, near, startWriter, testRoot } from '../fixtures/native.js';

test('gpu: true adds one nvml domain per GPU after the CPU domains', (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  const nvmlLibrary = buildFakeNvml(root, { watts: [300, 70] });
  const found = listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary });
  t.is(found.source, 'powercap', 'the CPU source; each domain says its own');
  t.deepEqual(found.domains.slice(-2).map((d) => [d.name, d.source, d.path]), [
    ['gpu-0', 'nvml', `${nvmlLibrary}#0`],
    ['gpu-1', 'nvml', `${nvmlLibrary}#1`],
  ]);
  t.is(found.domains.length, 7);
  t.false(listDomains({ sysfsRoot: root }).domains.some((d) => d.source === 'nvml'), 'no GPUs unless asked');
  // The fake driver "loaded" 1000 s before first use: millijoules since then, in joules.
  const reading = readOnce({ sysfsRoot: root, gpu: true, nvmlLibrary });
  const gpu0 = reading.domains.find((d) => d.name === 'gpu-0')!;
  t.true(Math.abs(gpu0.energyJoules - 300_000) / 300_000 < 0.01, `${gpu0.energyJoules} J`);
});

test('the sampler thread reads GPUs and CPU domains together at their watts', async (t) => {
  const root = testRoot(t);
  const writer = await startWriter(t, fakePowercap(root, fiveZones()));
  const nvmlLibrary = buildFakeNvml(root, { watts: [300, 70] });
  // The CPU counters are checked against the energy the writer delivered, not against
  // their watts: a writer process stalled by a busy machine skews a one-second mean by
  // percents. The fake GPUs run from the clock, so their watts hold over any window.
  const m = await measureExactly(t, writer, { sysfsRoot: root, gpu: true, nvmlLibrary, rateHz: 500 }, 1000);
  assertEnergy(t, m, 'package-0', 1);
  assertTicksRead(t, m);
  for (const [name, want] of [['gpu-0', 300], ['gpu-1', 70]] as const) {
    const watts = powerWatts(m.batch, m.sampler.domains.findIndex((d) => d.name === name));
    t.true(near(watts, want, 0.03), `${name}: ${watts} W, want ${want}`);
  }
  t.is(m.sampler.stats().readErrors, 0);
  m.sampler.start();
  const { energy } = await measure(() => sleep(300), { sampler: m.sampler });
  t.true(near(energy.domains['gpu-0'].watts, 300, 0.03), `measured ${energy.domains['gpu-0'].watts} W`);
});

test('a GPU without energy reporting is left out with a warning; none at all is an error', (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  const mixed = buildFakeNvml(root, { watts: [-1, 70] });
  const found = listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary: mixed });
  t.deepEqual(found.domains.filter((d) => d.source === 'nvml').map((d) => d.name), ['gpu-1']);
  t.deepEqual(found.warnings, ['nvml: GPU 0 does not report its total energy (Volta and newer do); left out']);
  const old = buildFakeNvml(testRoot(t), { watts: [-1] });
  t.like(t.throws<WattmeterError>(() => listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary: old })), {
    code: 'WATTMETER_NO_NVML',
    message: `${old}: no GPU reports its total energy (Volta and newer do)`,
  });
});

test('no driver: a clear message, whether the library is missing or cannot start', (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  const missing = t.throws<WattmeterError>(() => listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary: `${root}/libnvidia-ml.so.1` }));
  t.is(missing.code, 'WATTMETER_NO_NVML');
  t.regex(missing.message, /^cannot load NVML \(.*libnvidia-ml\.so\.1.*\): GPU energy needs the NVIDIA driver/);
  t.regex(missing.message, /If it is elsewhere, point nvmlLibrary at it\.$/, 'the option as this caller named it');
  const stopped = buildFakeNvml(root, { watts: [100], initError: 9 });
  t.like(t.throws<WattmeterError>(() => listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary: stopped })), {
    code: 'WATTMETER_NO_NVML',
    message: `${stopped}: nvmlInit_v2 failed: Driver Not Loaded`,
  });
  const notNvml = t.throws<WattmeterError>(() => listDomains({ sysfsRoot: root, gpu: true, nvmlLibrary: 'libc.so.6' }));
  t.is(notNvml.message, 'libc.so.6 has no nvmlInit_v2: not NVML, or an NVML too old for GPU energy');
});

test('the options come from WATTMETER_GPU and WATTMETER_NVML_LIBRARY too', (t) => {
  t.deepEqual(optionsFromEnv({ WATTMETER_GPU: '1', WATTMETER_NVML_LIBRARY: '/opt/nvidia/libnvidia-ml.so.1' }), {
    gpu: true,
    nvmlLibrary: '/opt/nvidia/libnvidia-ml.so.1',
  });
  t.throws(() => optionsFromEnv({ WATTMETER_GPU: 'maybe' }), { message: /WATTMETER_GPU must be true or false/ });
});

test('the real NVML, where an NVIDIA driver is installed', (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  let found;
  try {
    found = listDomains({ sysfsRoot: root, gpu: true });
  } catch (error) {
    t.like(error, { code: 'WATTMETER_NO_NVML' });
    t.log(`skipped: no usable NVIDIA driver here (${(error as Error).message.split('\n')[0]})`);
    return;
  }
  const gpus = found.domains.filter((d) => d.source === 'nvml');
  t.true(gpus.length > 0);
  t.log(`${gpus.length} GPU(s): ${gpus.map((d) => d.name).join(', ')}`);
});
