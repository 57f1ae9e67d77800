// The perf_event source: discovery and scaling on a fake event-source tree; the system
// call itself only where this kernel has the RAPL `power` PMU.
import test from 'ava';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listDomains, readOnce, WattmeterError, type SourceOptions } from '../lib/index.js';
import { testRoot } from '../fixtures/native.js';

const SCALE_2_32 = '2.3283064365386962890625e-10'; // 2^-32 J, what rapl.c exports
const SCALE_2_16 = '1.52587890625e-05'; // 2^-16 J, the fixed DRAM unit of some servers

interface FakePmu {
  type?: string;
  cpumask?: string;
  /** Per event (energy-pkg...): its config term, scale and unit. */
  events: Record<string, { event: string; scale?: string; unit?: string }>;
  /** Package of each CPU (sysfs topology). */
  packages?: Record<number, number>;
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${text}\n`);
}

/** <root>/bus/event_source/devices/power as arch/x86/events/rapl.c lays it out. */
function fakePmu(root: string, pmu: FakePmu): string {
  const dir = path.join(root, 'bus/event_source/devices/power');
  // A type no kernel hands out, so opening a fake event can never reach a real PMU.
  write(path.join(dir, 'type'), pmu.type ?? '999999');
  write(path.join(dir, 'cpumask'), pmu.cpumask ?? '0');
  for (const [name, { event, scale = SCALE_2_32, unit = 'Joules' }] of Object.entries(pmu.events)) {
    write(path.join(dir, 'events', name), event);
    write(path.join(dir, 'events', `${name}.scale`), scale);
    write(path.join(dir, 'events', `${name}.unit`), unit);
  }
  for (const [cpu, pkg] of Object.entries(pmu.packages ?? {})) {
    write(path.join(root, `devices/system/cpu/cpu${cpu}/topology/physical_package_id`), String(pkg));
  }
  return path.join(dir, 'events');
}

const TWO_SOCKETS: FakePmu = {
  cpumask: '0,2',
  packages: { 0: 0, 2: 1 },
  events: {
    'energy-cores': { event: 'event=0x01' },
    'energy-pkg': { event: 'event=0x02' },
    'energy-ram': { event: 'event=0x03', scale: SCALE_2_16 },
    'energy-gpu': { event: 'event=0x04' },
    'energy-psys': { event: 'event=0x05' },
  },
};

test('discovery: one domain per event and package, named like powercap, scaled by .scale', (t) => {
  const root = testRoot(t);
  const events = fakePmu(root, TWO_SOCKETS);
  const found = listDomains({ sysfsRoot: root, source: 'perf_event' });
  t.is(found.source, 'perf_event');
  t.deepEqual(found.warnings, []);
  t.deepEqual(
    found.domains.map((d) => [d.name, d.source, d.path]),
    [
      ['package-0', 'perf_event', `${events}/energy-pkg`],
      ['package-1', 'perf_event', `${events}/energy-pkg`],
      ['core-0', 'perf_event', `${events}/energy-cores`],
      ['core-1', 'perf_event', `${events}/energy-cores`],
      ['dram-0', 'perf_event', `${events}/energy-ram`],
      ['dram-1', 'perf_event', `${events}/energy-ram`],
      ['psys', 'perf_event', `${events}/energy-psys`],
      ['uncore-0', 'perf_event', `${events}/energy-gpu`],
      ['uncore-1', 'perf_event', `${events}/energy-gpu`],
    ],
  );
  // The 64-bit count wraps at 2^64 units of .scale joules: 2^32 J, or 2^48 J for DRAM.
  const range = Object.fromEntries(found.domains.map((d) => [d.name, d.maxEnergyRangeUj]));
  t.is(range['package-0'], 2 ** 32 * 1e6);
  t.is(range['dram-1'], 2 ** 48 * 1e6);
});

test('a cpumask range and no topology: packages numbered in mask order', (t) => {
  const root = testRoot(t);
  fakePmu(root, { cpumask: '4-5', events: { 'energy-pkg': { event: 'event=0x2' }, 'energy-psys': { event: 'event=0x5' } } });
  t.deepEqual(listDomains({ sysfsRoot: root, source: 'perf_event' }).domains.map((d) => d.name), ['package-0', 'package-1', 'psys']);
});

test('malformed PMU files are named in the error', (t) => {
  const root = testRoot(t);
  const events = fakePmu(root, { events: { 'energy-pkg': { event: 'event=0x02', unit: 'Watts' } } });
  const options: SourceOptions = { sysfsRoot: root, source: 'perf_event' };
  t.like(t.throws<WattmeterError>(() => listDomains(options)), { code: 'WATTMETER_BAD_FILE', message: `${events}/energy-pkg.unit: expected Joules, got "Watts"` });
  fakePmu(root, { events: { 'energy-pkg': { event: 'event=0x02,umask=0x1' } } });
  t.like(t.throws<WattmeterError>(() => listDomains(options)), { code: 'WATTMETER_BAD_FILE' });
  fakePmu(root, { events: { 'energy-pkg': { event: 'event=0x02', scale: '0' } } });
  t.regex(t.throws<WattmeterError>(() => listDomains(options)).message, /energy-pkg\.scale: "0" is not a positive number/);
  fakePmu(root, { cpumask: 'all', events: { 'energy-pkg': { event: 'event=0x02' } } });
  t.regex(t.throws<WattmeterError>(() => listDomains(options)).message, /cpumask: "all" is not a number/);
});

test('opening an event the kernel does not have fails with the event in the message', (t) => {
  const root = testRoot(t);
  const events = fakePmu(root, TWO_SOCKETS);
  const error = t.throws<WattmeterError>(() => readOnce({ sysfsRoot: root, source: 'perf_event' }));
  t.is(error.name, 'WattmeterError');
  t.regex(error.message, new RegExp(`perf_event_open\\(${events}/energy-pkg, cpu 0\\)`));
});

test('auto tries perf_event where the PMU exists and says why it moved on', (t) => {
  const root = testRoot(t);
  fakePmu(root, TWO_SOCKETS);
  write(path.join(root, 'proc/stat'), 'cpu  1 0 0 1 0 0 0 0 0 0');
  const found = listDomains({ sysfsRoot: root, procRoot: path.join(root, 'proc'), msrPath: path.join(root, 'msr%d') });
  t.is(found.source, 'model');
  t.is(found.warnings.length, 3);
  t.regex(found.warnings[1], /^perf_event: perf_event_open\(.*energy-\w+, cpu 0\): .*the kernel has no such event$/);
});

test('the system call on this kernel, where it has the power PMU', (t) => {
  if (!existsSync('/sys/bus/event_source/devices/power')) {
    t.log('skipped: this kernel has no RAPL power PMU (/sys/bus/event_source/devices/power is absent, as on most VMs)');
    t.pass();
    return;
  }
  try {
    const reading = readOnce({ source: 'perf_event' });
    t.true(reading.domains.length > 0);
    for (const d of reading.domains) t.true(d.energyJoules >= 0, `${d.name}: ${d.energyJoules} J`);
  } catch (error) {
    // Refused (perf_event_paranoid, no CAP_PERFMON): the message must say how to fix it.
    t.like(error, { code: 'WATTMETER_PERF_EVENT_DENIED' });
    t.regex((error as Error).message, /CAP_PERFMON.*perf_event_paranoid/s);
    t.log(`the kernel has the PMU but refused: ${(error as Error).message}`);
  }
});
