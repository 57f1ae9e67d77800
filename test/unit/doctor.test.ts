// The doctor's pure parts: reading the machine's facts from text, the counters' update
// interval and agreement, and the diagnoses that need a machine we cannot make here
// (root in a container without a capability).
import test from 'ava';
import { isRootOnlyEnergyKernel, kernelVersion, parseCapabilities, parseCpuinfo, type MachineFacts } from '../../lib/doctor/machine.js';
import { agreementFinding, changeIntervals, judgeRatio, valueAt, type Agreement } from '../../lib/doctor/counters.js';
import { diagnose } from '../../lib/doctor/sources.js';

test('kernel releases: 5.10 and later keep energy_uj root-only', (t) => {
  t.deepEqual(kernelVersion('6.1.0-18-amd64\n'), [6, 1]);
  t.is(isRootOnlyEnergyKernel('5.10.0-28-amd64'), true);
  t.is(isRootOnlyEnergyKernel('5.4.0-150-generic'), false);
  t.is(isRootOnlyEnergyKernel('4.19.0'), false);
  t.is(isRootOnlyEnergyKernel('6.18.44-fc'), true);
  t.is(isRootOnlyEnergyKernel('unknown'), null);
});

test('cpuinfo: the first processor, and the hypervisor flag of a guest', (t) => {
  const guest = 'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme hypervisor rapl\n\nprocessor\t: 1\n';
  t.deepEqual(parseCpuinfo(guest), { cpuVendor: 'AuthenticAMD', cpuFamily: 25, cpuModel: 17, virtualMachine: true });
  t.false(parseCpuinfo('vendor_id\t: GenuineIntel\nflags\t\t: fpu hypervisorx\n').virtualMachine);
  t.deepEqual(parseCpuinfo(''), { cpuVendor: null, cpuFamily: null, cpuModel: null, virtualMachine: false });
});

test('capabilities from CapEff: all of root, none of a user, a container without CAP_SYS_RAWIO', (t) => {
  t.deepEqual(parseCapabilities('CapInh:\t0\nCapEff:\t000001ffffffffff\n'), { perfmon: true, sysAdmin: true, sysRawio: true });
  t.deepEqual(parseCapabilities('CapEff:\t0000000000000000\n'), { perfmon: false, sysAdmin: false, sysRawio: false });
  // Docker's default set: no CAP_SYS_RAWIO (17), CAP_SYS_ADMIN (21) or CAP_PERFMON (38).
  t.deepEqual(parseCapabilities('CapEff:\t00000000a80425fb\n'), { perfmon: false, sysAdmin: false, sysRawio: false });
  t.is(parseCapabilities('Name:\tnode\n'), null);
});

test('the update interval: median time between value changes, repeats skipped', (t) => {
  // Read every 0.25 ms; the value changes at 1.0, 2.0, 3.25, 4.25 ms.
  const times = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 3.75, 4, 4.25];
  const values = [0, 0, 0, 0, 5, 5, 5, 5, 9, 9, 9, 9, 9, 14, 14, 14, 14, 20];
  t.deepEqual(changeIntervals(times, values), { medianMs: 1, changes: 4 }); // intervals 1, 1.25, 1
  t.deepEqual(changeIntervals([0, 1, 2], [3, 3, 3]), { medianMs: null, changes: 0 });
  t.deepEqual(changeIntervals([0, 1, 2], [3, 3, 4]), { medianMs: null, changes: 1 });
});

test('energy at an instant between two ticks is interpolated', (t) => {
  t.is(valueAt([0, 10, 20], [0, 100, 300], 15), 200);
  t.is(valueAt([0, 10, 20], [0, 100, 300], -5), 0);
  t.is(valueAt([0, 10, 20], [0, 100, 300], 25), 300);
});

test('a ratio near a power of two other than 1 is a unit error; near 1 agreement; else apart', (t) => {
  t.deepEqual(judgeRatio(1.01), { status: 'ok', powerOfTwo: 0 });
  t.deepEqual(judgeRatio(0.2502), { status: 'fail', powerOfTwo: -2 });
  t.deepEqual(judgeRatio(3.98), { status: 'fail', powerOfTwo: 2 });
  t.deepEqual(judgeRatio(1.5), { status: 'warn', powerOfTwo: 0 });
  t.deepEqual(judgeRatio(1.2), { status: 'warn', powerOfTwo: 0 });
  t.deepEqual(judgeRatio(NaN), { status: 'warn', powerOfTwo: 0 });
});

const FACTS: MachineFacts = {
  kernel: '6.1.0',
  rootOnlyEnergy: true,
  cpuVendor: 'GenuineIntel',
  cpuFamily: 6,
  cpuModel: 143,
  virtualMachine: false,
  uid: 0,
  capabilities: { perfmon: false, sysAdmin: false, sysRawio: false },
  perfEventParanoid: 2,
  powercapDriver: true,
  msrDriver: true,
  powerPmu: true,
};
const OPTIONS = { sysfsRoot: '/sys', msrPath: '/dev/cpu/%d/msr', nvmlLibrary: 'libnvidia-ml.so.1' };

test('root in a container without the capability is told to add it', (t) => {
  const msr = diagnose('msr', { code: 'EPERM', path: '/dev/cpu/0/msr', message: '' }, FACTS, OPTIONS);
  t.regex(msr.summary, /refused to root: no CAP_SYS_RAWIO/);
  t.deepEqual(msr.fix, ['docker run --cap-add SYS_RAWIO --device /dev/cpu/0/msr ...']);
  const perf = diagnose('perf_event', { code: 'WATTMETER_PERF_EVENT_DENIED', path: 'x', message: '' }, FACTS, OPTIONS);
  t.regex(perf.summary, /refused to root: no CAP_PERFMON or CAP_SYS_ADMIN/);
  t.regex(perf.fix![0], /--cap-add PERFMON/);
  // A user, not root: the sysctl and the capability for node.
  const user = diagnose('perf_event', { code: 'WATTMETER_PERF_EVENT_DENIED', path: 'x', message: '' }, { ...FACTS, uid: 1000, capabilities: null }, OPTIONS);
  t.is(user.fix![0], 'sudo sysctl kernel.perf_event_paranoid=0');
});

test('a kernel before 5.10 that refuses energy_uj is said to carry the backport', (t) => {
  const old = diagnose('powercap', { code: 'EACCES', path: '/sys/class/powercap/intel-rapl:0/energy_uj', message: '' }, { ...FACTS, uid: 1000, kernel: '5.4.0-150-generic', rootOnlyEnergy: false }, OPTIONS);
  t.regex(old.why!, /since Linux 5\.10 \(backported to some older kernels\).*Linux 5\.4\.0-150-generic/);
});

test('NVML: no driver is a warning, a driver that does not start is a failure', (t) => {
  const none = diagnose('nvml', { code: 'WATTMETER_NO_NVML', path: null, message: 'cannot load NVML (x): ...' }, FACTS, OPTIONS);
  t.is(none.status, 'warn');
  const broken = diagnose('nvml', { code: 'WATTMETER_NO_NVML', path: null, message: 'libnvidia-ml.so.1: nvmlInit_v2 failed: Driver Not Loaded' }, FACTS, OPTIONS);
  t.like(broken, { status: 'fail', summary: 'libnvidia-ml.so.1: nvmlInit_v2 failed: Driver Not Loaded' });
});

test('an agreement finding names both sources, the ratio and, for a unit error, the power of two', (t) => {
  const base: Agreement = { domain: 'dram-0', sources: ['powercap', 'msr'], joules: [8, 2], ratio: 0.25, powerOfTwo: -2, status: 'fail', fromMs: 0, toMs: 2000 };
  t.is(agreementFinding(base).summary, 'dram-0: msr reads 0.2500 times powercap, 2^-2: a wrong energy unit (msr counted 2.000 J, powercap 8.000 J in 2.0 s)');
  t.regex(agreementFinding(base).why!, /likwid #642/);
  const idle = agreementFinding({ ...base, joules: [0, 0], ratio: NaN, powerOfTwo: 0, status: 'warn' });
  t.like(idle, { status: 'warn', summary: 'dram-0: neither msr nor powercap counted any energy in 2.0 s' });
  t.like(agreementFinding({ ...base, joules: [8, 12], ratio: 1.5, powerOfTwo: 0, status: 'warn' }), { status: 'warn' });
});
