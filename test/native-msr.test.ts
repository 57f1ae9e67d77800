// The MSR source through the native sampler thread, on fake /dev/cpu/N/msr files (sparse
// files read with pread at each register's address) the writer advances at known watts.
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listDomains, type SourceOptions } from '../lib/index.js';
import { addon } from '../lib/native.js';
import { resolveSourceOptions } from '../lib/options.js';
import type { NativeError } from '../lib/errors.js';
import { fakeMsr, MSR, type FakeMsr, type FakeMsrSpec } from '../fixtures/fake-rapl.js';
import { assertEnergy, assertTicksRead, measureExactly, startWriter, testRoot } from '../fixtures/native.js';

function msrOptions(msr: FakeMsr): SourceOptions {
  return { source: 'msr', sysfsRoot: msr.sysfsRoot, procRoot: msr.procRoot, msrPath: msr.msrPath };
}

/** The raw error the addon's discovery throws, with its code and path. */
const nativeError = (t: ExecutionContext, options: SourceOptions) => t.throws<NativeError>(() => addon().discover(resolveSourceOptions(options)));

const uj = (joules: number) => joules * 1e6;

test('Intel: five registers, the energy unit from the unit register, exact energy', async (t) => {
  const root = testRoot(t);
  const spec: FakeMsrSpec = {
    vendor: 'intel',
    packages: 1,
    esu: 14,
    domains: [
      { register: 'package', watts: 20 },
      { register: 'core', watts: 12 },
      { register: 'uncore', watts: 2 },
      { register: 'dram', watts: 3 },
      { register: 'psys', watts: 30 },
    ],
  };
  const msr = fakeMsr(root, spec);
  const writer = await startWriter(t, msr.counters);
  const m = await measureExactly(t, writer, { ...msrOptions(msr), rateHz: 1000 }, 1500);
  t.is(m.sampler.source, 'msr');
  t.deepEqual(
    m.sampler.domains.map((d) => d.name),
    ['package-0', 'core-0', 'dram-0', 'psys', 'uncore-0'],
  );
  const device = msr.msrPath.replace('%d', '0');
  t.deepEqual(
    m.sampler.domains.map((d) => d.path),
    [`${device}@0x611`, `${device}@0x639`, `${device}@0x619`, `${device}@0x64d`, `${device}@0x641`],
  );
  t.is(m.sampler.domains[0].maxEnergyRangeUj, uj(2 ** 32 * 2 ** -14));
  assertTicksRead(t, m);
  for (const domain of m.sampler.domains) assertEnergy(t, m, domain.name, uj(2 ** -14));
});

// Server models count DRAM in a fixed 2^-16 J whatever the unit register says; Sapphire
// Rapids counts psys in whole joules (drivers/powercap/intel_rapl_common.c).
const joules = (unit: number) => (unit === 1 ? '1 J' : `2^${Math.log2(unit)} J`);
const models: [string, number, { dram: number; psys: number }][] = [
  ['a client part (Coffee Lake)', 158, { dram: 2 ** -14, psys: 2 ** -14 }],
  ['Skylake-X', 0x55, { dram: 2 ** -16, psys: 2 ** -14 }],
  ['Ice Lake-X', 0x6a, { dram: 2 ** -16, psys: 2 ** -14 }],
  ['Sapphire Rapids', 0x8f, { dram: 2 ** -14, psys: 1 }],
];
for (const [label, model, units] of models) {
  test(`Intel ${label}: DRAM counts ${joules(units.dram)}, psys ${joules(units.psys)}`, async (t) => {
    const root = testRoot(t);
    const msr = fakeMsr(root, {
      vendor: 'intel',
      packages: 1,
      esu: 14,
      model,
      domains: [
        { register: 'package', watts: 80 },
        { register: 'dram', watts: 10, unitJoules: units.dram },
        { register: 'psys', watts: 200, unitJoules: units.psys },
      ],
    });
    const writer = await startWriter(t, msr.counters);
    const m = await measureExactly(t, writer, { ...msrOptions(msr), rateHz: 500 }, 1500);
    assertEnergy(t, m, 'package-0', uj(2 ** -14));
    assertEnergy(t, m, 'dram-0', uj(units.dram));
    assertEnergy(t, m, 'psys', uj(units.psys));
    t.is(m.sampler.domains.find((d) => d.name === 'dram-0')!.maxEnergyRangeUj, uj(2 ** 32 * units.dram));
  });
}

test('AMD, two sockets: one package domain per socket, read on its first CPU, across the 32-bit wrap', async (t) => {
  const root = testRoot(t);
  const msr = fakeMsr(root, {
    vendor: 'amd',
    packages: 2,
    esu: 16,
    domains: [{ register: 'package', watts: 90 }],
    start: 2 ** 32 - 20 * 2 ** 16, // 20 J before the wrap
  });
  const writer = await startWriter(t, msr.counters);
  await writer.setWatts('package-1', 55);
  const m = await measureExactly(t, writer, { ...msrOptions(msr), rateHz: 1000 }, 1500);
  t.deepEqual(
    m.sampler.domains.map((d) => [d.name, d.path]),
    [
      ['package-0', `${msr.msrPath.replace('%d', '0')}@0xc001029b`],
      ['package-1', `${msr.msrPath.replace('%d', '1')}@0xc001029b`],
    ],
  );
  // More than the 20 J left before the wrap, whenever the sampler started.
  t.true(m.deliveredUj['package-1'] > uj(20) && m.deliveredUj['package-1'] < m.deliveredUj['package-0']);
  assertTicksRead(t, m);
  assertEnergy(t, m, 'package-0', uj(2 ** -16));
  assertEnergy(t, m, 'package-1', uj(2 ** -16));
});

test('a register the CPU lacks is not a domain', (t) => {
  const root = testRoot(t);
  // Only the package register: the others lie past the end of the file, and read short
  // as the driver answers EIO for a register the CPU does not have.
  const msr = fakeMsr(root, { vendor: 'intel', packages: 1, domains: [{ register: 'package', watts: 1 }] });
  t.deepEqual(listDomains(msrOptions(msr)).domains.map((d) => d.name), ['package-0']);
});

test('what the MSR source cannot use fails with a code and the file at fault', (t) => {
  const root = testRoot(t);
  const msr = fakeMsr(root, { vendor: 'intel', packages: 1, domains: [{ register: 'package', watts: 1 }] });
  const cpuinfo = path.join(msr.procRoot, 'cpuinfo');

  const missing = nativeError(t, { ...msrOptions(msr), msrPath: path.join(root, 'nodev/%d/msr') });
  t.is(missing.code, 'ENOENT');
  t.is(missing.path, path.join(root, 'nodev/0/msr'));
  t.regex(missing.message, /msr module not loaded/);

  // A VM: the device exists but the unit register cannot be read.
  const vm = path.join(root, 'vm/0/msr');
  mkdirSync(path.dirname(vm), { recursive: true });
  writeFileSync(vm, '');
  const noRapl = nativeError(t, { ...msrOptions(msr), msrPath: path.join(root, 'vm/%d/msr') });
  t.is(noRapl.code, 'WATTMETER_UNSUPPORTED_CPU');
  t.is(noRapl.path, `${vm}@0x${MSR.intel.unit.toString(16)}`);

  writeFileSync(cpuinfo, 'processor\t: 0\nvendor_id\t: CentaurHauls\ncpu family\t: 6\nmodel\t\t: 15\n');
  const vendor = nativeError(t, msrOptions(msr));
  t.is(vendor.code, 'WATTMETER_UNSUPPORTED_CPU');
  t.is(vendor.path, cpuinfo);
  t.regex(vendor.message, /CentaurHauls/);
  // The vendor given as an option wins over cpuinfo.
  t.deepEqual(listDomains({ ...msrOptions(msr), cpuVendor: 'intel' }).domains.map((d) => d.name), ['package-0']);

  writeFileSync(cpuinfo, 'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 21\nmodel\t\t: 2\n');
  const oldAmd = nativeError(t, msrOptions(msr));
  t.is(oldAmd.code, 'WATTMETER_UNSUPPORTED_CPU');
  t.regex(oldAmd.message, /family 21 has no RAPL MSRs/);
});

test('auto uses the MSRs when there is no powercap tree, and says why', (t) => {
  const root = testRoot(t);
  const msr = fakeMsr(root, { vendor: 'amd', packages: 1, domains: [{ register: 'package', watts: 1 }] });
  const found = listDomains({ ...msrOptions(msr), source: 'auto' });
  t.is(found.source, 'msr');
  t.deepEqual(found.warnings, [`powercap: ${msr.sysfsRoot}/class/powercap: No such file or directory (no powercap driver loaded; virtual machines rarely expose RAPL: use the model source for an estimate, or measure on the host)`]);
});
