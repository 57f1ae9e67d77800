// Each real source checked the way the sampler opens it: readOnce with the source forced
// (every counter opened and read once), then, when that fails, the error's code and file
// read against the machine's facts into a reason and the exact fix.
import { readOnce } from '../domains.js';
import type { NativeError } from '../errors.js';
import type { NativeOptions } from '../native.js';
import type { Finding } from './finding.js';
import type { Capabilities, MachineFacts } from './machine.js';

export const REAL_SOURCES = ['powercap', 'perf_event', 'msr', 'nvml'] as const;
export type RealSource = (typeof REAL_SOURCES)[number];

export interface SourceCheck {
  source: RealSource;
  /** The domains it read, by name; empty when it does not work. */
  domains: string[];
  /** What the reader threw, when it does not work. */
  error?: SourceFailure;
  finding: Finding;
}

/** What a failed read threw: its code (errno name or WATTMETER_*), file and message. */
export interface SourceFailure {
  code: string | null;
  path: string | null;
  message: string;
}

/** The options that make readOnce read one source: nvml rides along the model. */
export function sourceOptions(source: RealSource, options: NativeOptions): NativeOptions {
  return source === 'nvml' ? { ...options, source: 'model', gpu: true } : { ...options, source, gpu: false };
}

export function checkSource(source: RealSource, options: NativeOptions, facts: MachineFacts): SourceCheck {
  try {
    const reading = readOnce(sourceOptions(source, options));
    const domains = reading.domains.filter((d) => d.source === source);
    const notes = reading.warnings.filter((w) => w.startsWith(`${source}:`));
    const summary = `${domains.length} domain${domains.length === 1 ? '' : 's'} read: ${domains.map((d) => d.name).join(', ')}`;
    const finding: Finding = notes.length > 0 ? { check: source, status: 'warn', summary, why: notes.join('; ') } : { check: source, status: 'ok', summary };
    return { source, domains: domains.map((d) => d.name), finding };
  } catch (error) {
    const failure = failureOf(error);
    return { source, domains: [], error: failure, finding: diagnose(source, failure, facts, options) };
  }
}

function failureOf(error: unknown): SourceFailure {
  const native = error as NativeError;
  const cause = (native?.cause ?? {}) as NativeError;
  return { code: native?.code ?? null, path: cause.path ?? native?.path ?? null, message: String(native?.message ?? error) };
}

/** The node binary, as a command line should name it for setcap. */
const NODE = '"$(readlink -f "$(command -v node)")"';
const AS_ROOT_THEN_DROP =
  'or start wattmeter as root with WATTMETER_USER=<user> (--user): it opens the counters as root, then runs as <user>';

/** Why a source failed, and the fix, from its error and the machine's facts. Pure. */
export function diagnose(source: RealSource, failure: SourceFailure, facts: MachineFacts, options: Pick<NativeOptions, 'sysfsRoot' | 'msrPath' | 'nvmlLibrary'>): Finding {
  const fail = (summary: string, why?: string, fix?: string[]): Finding => ({ check: source, status: 'fail', summary, why, fix });
  const vm = facts.virtualMachine;
  // A VM's fix is the machine's (see machineFinding): here only why.
  const vmWhy = 'this is a virtual machine (the CPU reports the `hypervisor` flag), and virtual machines rarely pass RAPL through';
  const { code, path: file, message } = failure;
  const denied = code === 'EACCES' || code === 'EPERM';
  const user = facts.uid === null ? 'this user' : `uid ${facts.uid}`;
  // Root without a capability: a container that dropped it.
  const rootWithout = (cap: keyof Capabilities) => facts.uid === 0 && facts.capabilities !== null && !facts.capabilities[cap];

  switch (source) {
    case 'powercap': {
      const dir = `${options.sysfsRoot}/class/powercap`;
      if ((code === 'ENOENT' && file === dir) || code === 'WATTMETER_NO_DOMAINS') {
        const what = code === 'ENOENT' ? `${dir} does not exist` : `${dir} has no intel-rapl zones`;
        if (vm) return fail(`no powercap zones: ${what}`, vmWhy);
        return fail(
          `no powercap zones: ${what}`,
          `the RAPL powercap driver is ${facts.powercapDriver ? 'loaded but found no RAPL on this CPU' : 'not loaded'}`,
          ['sudo modprobe intel_rapl_msr', 'to load it at every boot: echo intel_rapl_msr | sudo tee /etc/modules-load.d/wattmeter.conf'],
        );
      }
      if (denied) {
        const kernel = facts.kernel === null ? 'this kernel' : `Linux ${facts.kernel}`;
        const since = facts.rootOnlyEnergy === false ? ' (backported to some older kernels)' : '';
        return fail(
          `${file} is not readable by ${user}`,
          `energy_uj is readable by root only since Linux 5.10${since}, because fine-grained energy readings leak secrets ` +
            `(PLATYPUS, CVE-2020-8694); this is ${kernel}. Grant access only to users you trust with that side channel.`,
          [
            `echo 'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"' | sudo tee /etc/udev/rules.d/60-wattmeter-powercap.rules && sudo udevadm trigger --action=add --subsystem-match=powercap`,
            `or until the next boot: sudo chmod a+r ${dir}/*/energy_uj`,
            AS_ROOT_THEN_DROP,
          ],
        );
      }
      break;
    }
    case 'perf_event': {
      if (code === 'ENOENT' && file?.endsWith('/devices/power/type')) {
        if (vm) return fail(`no RAPL power PMU: ${options.sysfsRoot}/bus/event_source/devices/power does not exist`, vmWhy);
        return fail(
          `no RAPL power PMU: ${options.sysfsRoot}/bus/event_source/devices/power does not exist`,
          'the kernel\'s RAPL perf driver (module `rapl`) is not loaded, or this CPU has no RAPL',
          ['sudo modprobe rapl'],
        );
      }
      if (code === 'WATTMETER_PERF_EVENT_DENIED') {
        const paranoid = facts.perfEventParanoid === null ? 'unknown' : String(facts.perfEventParanoid);
        if (rootWithout('perfmon') && rootWithout('sysAdmin')) {
          return fail(
            'perf_event_open was refused to root: no CAP_PERFMON or CAP_SYS_ADMIN (a container?)',
            `system-wide RAPL events need CAP_PERFMON or CAP_SYS_ADMIN, or kernel.perf_event_paranoid <= 0 (it is ${paranoid})`,
            ['docker run --cap-add PERFMON ... (or --cap-add SYS_ADMIN on Linux before 5.8)', 'or on the host: sudo sysctl kernel.perf_event_paranoid=0'],
          );
        }
        return fail(
          `the kernel refused ${user} the system-wide RAPL events: kernel.perf_event_paranoid is ${paranoid}`,
          'system-wide perf events need kernel.perf_event_paranoid <= 0, or CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8), or root',
          [
            'sudo sysctl kernel.perf_event_paranoid=0',
            "to keep it: echo 'kernel.perf_event_paranoid = 0' | sudo tee /etc/sysctl.d/60-wattmeter.conf",
            `or give node the capability: sudo setcap cap_perfmon=ep ${NODE}`,
            AS_ROOT_THEN_DROP,
          ],
        );
      }
      break;
    }
    case 'msr': {
      const device = options.msrPath.replace('%d', '0');
      if (code === 'ENOENT' && file !== null && !file.includes('cpuinfo') && !file.includes('/devices/system/cpu')) {
        if (facts.msrDriver) {
          return fail(
            `${file} does not exist, although the msr driver is loaded`,
            'the device nodes are missing: in a container, /dev/cpu is not passed in',
            [`docker run --device ${device} --cap-add SYS_RAWIO ... (one --device per CPU read; wattmeter reads the first CPU of each package)`, 'or check --msr-path / WATTMETER_MSR_PATH'],
          );
        }
        return fail(`${file} does not exist: the msr module is not loaded`, vm ? `${vmWhy}, even with the module` : undefined, [
          'sudo modprobe msr',
          'to load it at every boot: echo msr | sudo tee /etc/modules-load.d/msr.conf',
        ]);
      }
      if (denied) {
        if (rootWithout('sysRawio')) {
          return fail(`opening ${file} was refused to root: no CAP_SYS_RAWIO (a container?)`, 'the msr driver checks CAP_SYS_RAWIO at open()', [
            `docker run --cap-add SYS_RAWIO --device ${device} ...`,
          ]);
        }
        return fail(
          `opening ${file} was refused to ${user}`,
          'the msr driver lets a process open /dev/cpu/N/msr only with CAP_SYS_RAWIO, and the file is root-only by default',
          [
            'run as root (sudo)',
            AS_ROOT_THEN_DROP,
            `or: sudo setcap cap_sys_rawio=ep ${NODE} and grant read access: sudo chgrp <group> /dev/cpu/*/msr && sudo chmod g+r /dev/cpu/*/msr`,
          ],
        );
      }
      if (code === 'WATTMETER_UNSUPPORTED_CPU' && vm) return fail(`no RAPL MSRs: ${message}`, vmWhy);
      break;
    }
    case 'nvml': {
      if (code === 'WATTMETER_NO_NVML' && message.startsWith('cannot load NVML')) {
        return {
          check: source,
          status: 'warn',
          summary: `no NVIDIA driver: ${options.nvmlLibrary} cannot be loaded`,
          why: 'only NVIDIA GPUs need it: ignore this on a machine without one',
          fix: ['install the NVIDIA driver, or point --nvml-library / WATTMETER_NVML_LIBRARY at its libnvidia-ml.so.1'],
        };
      }
      if (code === 'WATTMETER_NO_NVML' && message.includes('no GPU reports its total energy')) {
        return { check: source, status: 'warn', summary: message, why: 'NVML reports total energy on Volta and newer GPUs only' };
      }
      return fail(message, undefined, ['check the driver with `nvidia-smi`']);
    }
  }
  return fail(message);
}
