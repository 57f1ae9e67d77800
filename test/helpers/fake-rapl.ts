// Fake RAPL hardware for tests and benchmarks: powercap trees, MSR device files (sparse
// files, one u64 at each register's address, as /dev/cpu/N/msr is read with pread) and
// /proc/stat, all under a temporary root, advanced in place by a writer child process at
// known watts. Nothing else is faked.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One counter the writer advances. */
export interface CounterSpec {
  /** The domain name a reader should report for it (package-0, core-0, psys...). */
  key: string;
  file: string;
  /** decimal: powercap energy_uj text; u64le: an MSR; procstat: the cpu line of /proc/stat. */
  format: 'decimal' | 'u64le' | 'procstat';
  /** Byte offset: the MSR address; 0 otherwise. */
  offset: number;
  /** Joules per raw count (1e-6 for powercap, 2^-ESU for MSRs). */
  unitJoules: number;
  /** Raw value at which the counter wraps to 0. */
  wrap: number;
  /** Power delivered (for procstat: CPU utilisation 0..1). */
  watts: number;
  /** Raw value at the start. */
  start?: number;
  /** procstat: number of CPUs the jiffies stand for. */
  cpus?: number;
}

export type WriterCommand =
  | { id: number; type: 'start'; counters: CounterSpec[]; periodMs: number }
  | { id: number; type: 'setWatts'; key: string; watts: number }
  | { id: number; type: 'pause' | 'resume' | 'snapshot' | 'stop' };

export interface WriterReply {
  id: number;
  /** Per counter key: joules delivered since start, and the raw value last written. */
  snapshot: Record<string, { energyJ: number; raw: number }>;
}

/** A temporary root, traversable by everybody so unprivileged child processes reach it. */
export function tempRoot(prefix = 'wattmeter-test-'): string {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(root, 0o755);
  return root;
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

// ---------------------------------------------------------------------------- powercap

export interface PowercapZoneSpec {
  /** Directory name: intel-rapl:0, intel-rapl:0:1, intel-rapl-mmio:0, intel-rapl:1 (psys)... */
  zone: string;
  /** Contents of the name file: package-0, core, uncore, dram, psys. */
  name: string;
  watts: number;
  /** Default 262143328850 (a common real value); make it small to force wraps. */
  maxEnergyRangeUj?: number;
  startUj?: number;
  /** Domain name a reader should report; derived from name and zone when left out. */
  key?: string;
}

export const DEFAULT_MAX_ENERGY_RANGE_UJ = 262_143_328_850;

/** Domain name wattmeter gives a zone: sub-zones take the socket from their parent. */
function powercapKey(spec: PowercapZoneSpec): string {
  if (spec.key) return spec.key;
  if (/^package-\d+$/.test(spec.name) || spec.name === 'psys') return spec.name;
  return `${spec.name}-${spec.zone.split(':')[1]}`;
}

function zoneDir(root: string, zone: string): string {
  // Real sysfs nests sub-zones inside their parent and links them from class/powercap;
  // a flat tree of directories is what readers (and node_exporter) walk.
  return path.join(root, 'class', 'powercap', zone);
}

/** Builds <root>/class/powercap with the given zones; returns the counters to advance. */
export function fakePowercap(root: string, zones: PowercapZoneSpec[]): CounterSpec[] {
  // The control type directory: no `name`, not a zone.
  write(path.join(root, 'class', 'powercap', 'intel-rapl', 'enabled'), '1\n');
  return zones.map((spec) => {
    const dir = zoneDir(root, spec.zone);
    const range = spec.maxEnergyRangeUj ?? DEFAULT_MAX_ENERGY_RANGE_UJ;
    const start = spec.startUj ?? 0;
    write(path.join(dir, 'name'), `${spec.name}\n`);
    write(path.join(dir, 'enabled'), '1\n');
    write(path.join(dir, 'max_energy_range_uj'), `${range}\n`);
    write(path.join(dir, 'energy_uj'), `${start}\n`);
    return {
      key: powercapKey(spec),
      file: path.join(dir, 'energy_uj'),
      format: 'decimal' as const,
      offset: 0,
      unitJoules: 1e-6,
      wrap: range + 1,
      watts: spec.watts,
      start,
    };
  });
}

/** The path of a zone's energy_uj, to chmod or remove it in a test. */
export function energyFile(root: string, zone: string): string {
  return path.join(zoneDir(root, zone), 'energy_uj');
}

/** A typical one-socket Intel client: package, core, uncore, dram, psys (5 domains). */
export function fiveZones(watts = { package: 20, core: 12, uncore: 2, dram: 3, psys: 30 }): PowercapZoneSpec[] {
  return [
    { zone: 'intel-rapl:0', name: 'package-0', watts: watts.package },
    { zone: 'intel-rapl:0:0', name: 'core', watts: watts.core },
    { zone: 'intel-rapl:0:1', name: 'uncore', watts: watts.uncore },
    { zone: 'intel-rapl:0:2', name: 'dram', watts: watts.dram },
    { zone: 'intel-rapl:1', name: 'psys', watts: watts.psys },
  ];
}

// ---------------------------------------------------------------------------------- msr

export const MSR = {
  intel: { unit: 0x606, package: 0x611, dram: 0x619, core: 0x639, uncore: 0x641, psys: 0x64d },
  amd: { unit: 0xc0010299, core: 0xc001029a, package: 0xc001029b },
} as const;

export interface FakeMsrSpec {
  vendor: 'intel' | 'amd';
  packages: number;
  cpusPerPackage?: number;
  /** Energy status unit: one count = 2^-esu J (Intel clients 14, AMD Zen 16). */
  esu?: number;
  /** cpuinfo `model`; Intel server models use a fixed 2^-16 J DRAM unit. */
  model?: number;
  family?: number;
  /** Per package, the domains present and their watts (register names of MSR[vendor]). */
  domains: { register: 'package' | 'dram' | 'core' | 'uncore' | 'psys'; watts: number; unitJoules?: number }[];
  /** Raw start value of every energy register (to start near the 32-bit wrap). */
  start?: number;
}

export interface FakeMsr {
  sysfsRoot: string;
  procRoot: string;
  msrPath: string;
  counters: CounterSpec[];
}

function writeU64(file: string, offset: number, value: number): void {
  const fd = openSync(file, 'r+');
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  writeSync(fd, buffer, 0, 8, offset);
  closeSync(fd);
}

/**
 * Builds sysfs cpu topology, /proc/cpuinfo and one sparse MSR file per CPU. A register
 * past the end of the file reads short, like a register the CPU does not have; registers
 * below the highest one present read as 0 (the file is sparse).
 */
export function fakeMsr(root: string, spec: FakeMsrSpec): FakeMsr {
  const cpusPerPackage = spec.cpusPerPackage ?? 2;
  const esu = spec.esu ?? (spec.vendor === 'amd' ? 16 : 14);
  const registers = MSR[spec.vendor] as Record<string, number>;
  const sysfsRoot = path.join(root, 'sys');
  const procRoot = path.join(root, 'proc');
  const cpuinfo: string[] = [];
  const counters: CounterSpec[] = [];
  const unitValue = (esu << 8) | 0x3 | (0xa << 16); // power unit 1/8 W, time unit 2^-10 s
  for (let pkg = 0; pkg < spec.packages; pkg++) {
    for (let i = 0; i < cpusPerPackage; i++) {
      // Interleave CPUs across packages, as many real machines number them.
      const cpu = i * spec.packages + pkg;
      write(path.join(sysfsRoot, 'devices/system/cpu', `cpu${cpu}`, 'topology/physical_package_id'), `${pkg}\n`);
      cpuinfo[cpu] = [
        `processor\t: ${cpu}`,
        `vendor_id\t: ${spec.vendor === 'amd' ? 'AuthenticAMD' : 'GenuineIntel'}`,
        `cpu family\t: ${spec.family ?? (spec.vendor === 'amd' ? 25 : 6)}`,
        `model\t\t: ${spec.model ?? (spec.vendor === 'amd' ? 33 : 158)}`,
        `physical id\t: ${pkg}`,
        '',
      ].join('\n');
      const file = path.join(root, 'dev/cpu', String(cpu), 'msr');
      const present = spec.domains.map((d) => registers[d.register]);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '');
      // Size the sparse file to end just after the highest register present.
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(8), 0, 8, Math.max(registers.unit, ...present));
      closeSync(fd);
      writeU64(file, registers.unit, unitValue);
      if (i !== 0) continue; // the reader uses the first CPU of each package
      for (const domain of spec.domains) {
        if (domain.register === 'psys' && pkg !== 0) continue;
        counters.push({
          key: domain.register === 'psys' ? 'psys' : `${domain.register}-${pkg}`,
          file,
          format: 'u64le',
          offset: registers[domain.register],
          unitJoules: domain.unitJoules ?? 2 ** -esu,
          wrap: 2 ** 32,
          watts: domain.watts,
          start: spec.start ?? 0,
        });
      }
    }
  }
  write(path.join(procRoot, 'cpuinfo'), cpuinfo.join('\n'));
  write(path.join(procRoot, 'stat'), 'cpu  0 0 0 0 0 0 0 0 0 0\n');
  return { sysfsRoot, procRoot, msrPath: path.join(root, 'dev/cpu/%d/msr'), counters };
}

// ---------------------------------------------------------------------------- /proc/stat

/** A /proc/stat whose cpu line the writer advances at `utilisation` (0..1) busy share. */
export function fakeProcStat(root: string, utilisation: number, cpus = 2): CounterSpec[] {
  const file = path.join(root, 'proc', 'stat');
  write(file, 'cpu  0 0 0 0 0 0 0 0 0 0\n'.padEnd(96, ' '));
  return [{ key: 'package-0', file, format: 'procstat', offset: 0, unitJoules: 1, wrap: Infinity, watts: utilisation, cpus }];
}

// -------------------------------------------------------------------------------- writer

const WRITER = fileURLToPath(new URL('./counter-writer.js', import.meta.url));

/** The fake hardware's clock hand: a child process advancing counters in place. */
export class FakeWriter {
  #child: ChildProcess;
  #nextId = 0;
  #pending = new Map<number, { resolve: (s: WriterReply['snapshot']) => void; reject: (e: Error) => void }>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: WriterReply) => {
      this.#pending.get(reply.id)?.resolve(reply.snapshot);
      this.#pending.delete(reply.id);
    });
    // 'close', not 'exit': only then has every message the child sent been delivered, so a
    // reply sent just before exiting (stop's) is never taken for a lost one.
    child.on('close', (code) => {
      for (const { reject } of this.#pending.values()) reject(new Error(`fake counter writer exited (${code})`));
      this.#pending.clear();
    });
  }

  /** Why the writer runs at normal priority although `fifo` was asked for; else undefined. */
  fifoRefused: string | undefined;

  /**
   * Starts advancing the counters every periodMs (default 1 ms, like RAPL).
   *
   * `fifo`: run the writer SCHED_FIFO where that is allowed (root or CAP_SYS_NICE). RAPL
   * counters advance whatever the OS is doing; a writer process does not: on a busy VM
   * where other processes run SCHED_FIFO (benchmarks of the sampler), a normal process
   * can wait hundreds of milliseconds for a CPU, even at nice -20, and the counters stand
   * still meanwhile. Where it is not allowed, `fifoRefused` says why and the writer runs
   * as it is (long stalls may then fail timing-sensitive tests).
   */
  static async start(counters: CounterSpec[], periodMs = 1, { fifo = false } = {}): Promise<FakeWriter> {
    const child = fork(WRITER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const writer = new FakeWriter(child);
    if (fifo) {
      const chrt = spawnSync('chrt', ['--all-tasks', '--fifo', '--pid', '10', String(child.pid)], { encoding: 'utf8' });
      if (chrt.status !== 0) writer.fifoRefused = chrt.error?.message ?? chrt.stderr.trim();
    }
    await writer.#call({ type: 'start', counters, periodMs });
    return writer;
  }

  #call(command: DistributiveOmit<WriterCommand, 'id'>): Promise<WriterReply['snapshot']> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ ...command, id });
    });
  }

  /** The writer process's id (to raise its scheduling priority, say). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Changes one counter's power from now on (earlier energy is booked at the old power). */
  setWatts(key: string, watts: number) {
    return this.#call({ type: 'setWatts', key, watts });
  }

  /** Freezes every counter (no energy accrues while paused). */
  pause() {
    return this.#call({ type: 'pause' });
  }

  resume() {
    return this.#call({ type: 'resume' });
  }

  /** Joules delivered so far and the raw values last written, per counter key. */
  snapshot() {
    return this.#call({ type: 'snapshot' });
  }

  async stop(): Promise<WriterReply['snapshot']> {
    if (this.#child.exitCode !== null) return {};
    const exited = once(this.#child, 'close');
    const last = await this.#call({ type: 'stop' });
    await exited;
    return last;
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Makes a file readable by root only, as energy_uj is since Linux 5.10. */
export function makeRootOnly(file: string): void {
  chmodSync(file, 0o400);
}
