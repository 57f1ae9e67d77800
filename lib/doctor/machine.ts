// What the machine says about itself, read from the same roots the sources read: the
// kernel, the CPU, whether it is a virtual machine, the user's rights and the drivers.
// The parsers are pure, so they are tested on text; machineFacts() only reads files.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { NativeOptions } from '../native.js';

export interface Capabilities {
  /** CAP_PERFMON (Linux 5.8+): system-wide perf events such as RAPL's. */
  perfmon: boolean;
  /** CAP_SYS_ADMIN: what CAP_PERFMON split off; older kernels ask for it instead. */
  sysAdmin: boolean;
  /** CAP_SYS_RAWIO: the msr driver checks it at open(). */
  sysRawio: boolean;
}

export interface MachineFacts {
  /** <procRoot>/sys/kernel/osrelease, e.g. "6.1.0-18-amd64"; null when unreadable. */
  kernel: string | null;
  /** Whether the kernel is 5.10 or later, where energy_uj is root-only (CVE-2020-8694). */
  rootOnlyEnergy: boolean | null;
  /** From <procRoot>/cpuinfo: vendor_id, cpu family, model. */
  cpuVendor: string | null;
  cpuFamily: number | null;
  cpuModel: number | null;
  /** The `hypervisor` flag in <procRoot>/cpuinfo: a virtual machine. */
  virtualMachine: boolean;
  uid: number | null;
  /** From CapEff in <procRoot>/self/status; null when unreadable. */
  capabilities: Capabilities | null;
  /** <procRoot>/sys/kernel/perf_event_paranoid; null when unreadable. */
  perfEventParanoid: number | null;
  /** <sysfsRoot>/module/intel_rapl_common: the powercap RAPL driver (loaded or built in). */
  powercapDriver: boolean;
  /** <sysfsRoot>/module/msr: the msr driver. */
  msrDriver: boolean;
  /** <sysfsRoot>/bus/event_source/devices/power: the kernel's RAPL perf PMU. */
  powerPmu: boolean;
}

/** [major, minor] of a kernel release such as "5.10.0-28-amd64"; null if it is not one. */
export function kernelVersion(release: string): [number, number] | null {
  const match = /^(\d+)\.(\d+)/.exec(release.trim());
  return match ? [Number(match[1]), Number(match[2])] : null;
}

export function isRootOnlyEnergyKernel(release: string): boolean | null {
  const version = kernelVersion(release);
  if (!version) return null;
  const [major, minor] = version;
  return major > 5 || (major === 5 && minor >= 10);
}

/** The first processor's vendor, family and model, and whether any lists `hypervisor`. */
export function parseCpuinfo(text: string): Pick<MachineFacts, 'cpuVendor' | 'cpuFamily' | 'cpuModel' | 'virtualMachine'> {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1].trim() ?? null;
  const number = (name: string) => {
    const value = field(name);
    return value === null || !/^\d+$/.test(value) ? null : Number(value);
  };
  return {
    cpuVendor: field('vendor_id'),
    cpuFamily: number('cpu family'),
    cpuModel: number('model'),
    virtualMachine: /^flags\s*:.*\bhypervisor\b/m.test(text),
  };
}

const CAP_SYS_RAWIO = 17n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;

/** The effective capabilities of a /proc/<pid>/status text; null without a CapEff line. */
export function parseCapabilities(status: string): Capabilities | null {
  const hex = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status)?.[1];
  if (hex === undefined) return null;
  const mask = BigInt(`0x${hex}`);
  const has = (bit: bigint) => ((mask >> bit) & 1n) === 1n;
  return { perfmon: has(CAP_PERFMON), sysAdmin: has(CAP_SYS_ADMIN), sysRawio: has(CAP_SYS_RAWIO) };
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

export function machineFacts({ sysfsRoot, procRoot }: Pick<NativeOptions, 'sysfsRoot' | 'procRoot'>): MachineFacts {
  const release = readText(path.join(procRoot, 'sys/kernel/osrelease'))?.trim() || null;
  const paranoid = readText(path.join(procRoot, 'sys/kernel/perf_event_paranoid'))?.trim();
  const status = readText(path.join(procRoot, 'self/status'));
  return {
    kernel: release,
    rootOnlyEnergy: release === null ? null : isRootOnlyEnergyKernel(release),
    ...parseCpuinfo(readText(path.join(procRoot, 'cpuinfo')) ?? ''),
    uid: process.getuid?.() ?? null,
    capabilities: status === null ? null : parseCapabilities(status),
    perfEventParanoid: paranoid !== undefined && /^-?\d+$/.test(paranoid) ? Number(paranoid) : null,
    powercapDriver: existsSync(path.join(sysfsRoot, 'module/intel_rapl_common')),
    msrDriver: existsSync(path.join(sysfsRoot, 'module/msr')),
    powerPmu: existsSync(path.join(sysfsRoot, 'bus/event_source/devices/power')),
  };
}
