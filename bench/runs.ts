// The runs the sampler benchmarks are made of: the native sampler in this process, the
// bare C loop (bench/floor.c) in its own, and two CPU hogs to run them beside, all on one
// bench bed of fake counters.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler } from '../lib/index.js';
import type { Lateness } from '../lib/stats.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';

const execFileAsync = promisify(execFile);

/**
 * Five fake powercap zones, the writer process that advances them every millisecond, and
 * the floor built beside them (undefined without a C compiler); close() removes it all.
 */
export async function benchBed(prefix: string) {
  const root = tempRoot(prefix);
  const zones = fakePowercap(root, fiveZones());
  const writer = await FakeWriter.start(zones);
  const close = async () => {
    await writer.stop();
    removeRoot(root);
  };
  return { root, files: zones.map((z) => z.file), writer, floor: buildFloor(root), close };
}

export interface Run {
  rateHz: number;
  achievedHz: number;
  dropped: number;
  overruns: number;
  latenessUs: { p50: number; p99: number; max: number };
  cpuPercent: number; // of one core, this process only (the writer is another process)
  threadCpuPercent: number; // of one core, the sampler thread alone
  cpuPerTickUs: number;
  realtime: boolean;
  settings: string[];
  /**
   * The share of 100 ms drain intervals, after the first, in which the process faulted in a
   * page (the sampler thread takes none): a burst of faults counts once, as it costs the
   * sampler's next wake-up once.
   */
  faultingDrains: number;
}

/** CPU time of this process over wall time while `body` runs, in % of one core. */
export async function cpuPercentOf(body: () => Promise<void>): Promise<number> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await body();
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
}

/**
 * `freshArrays`: each drain's ticks are also copied, every column, into a new Float64Array:
 * the allocation and writes of a drain before slabs (lib/slab.ts), on top of the slab's.
 */
export async function nativeRun(sysfsRoot: string, rateHz: number, seconds: number, { realtime = false, freshArrays = false } = {}): Promise<Run> {
  using sampler = openSampler({ sysfsRoot, rateHz, realtime });
  let threadCpuPercent = NaN;
  let [drains, faulting, faults] = [0, 0, 0];
  const cpuPercent = await cpuPercentOf(async () => {
    sampler.start();
    const [threadNs, wallMs] = [samplerThreadCpuNs(), performance.now()];
    const drainer = setInterval(() => {
      const batch = sampler.drain();
      if (freshArrays) {
        const copy = new Float64Array(batch.length * (1 + batch.domains.length));
        [batch.timestampsMs, ...batch.energyUj].forEach((column, i) => copy.set(column, i * batch.length));
      }
      // From the first drain on: it allocates the sampler's first slab.
      const now = process.resourceUsage().minorPageFault;
      if (drains++ > 0 && now > faults) faulting++;
      faults = now;
    }, 100);
    await sleep(seconds * 1000);
    clearInterval(drainer);
    threadCpuPercent = ((samplerThreadCpuNs() - threadNs) / 1e6 / (performance.now() - wallMs)) * 100;
    sampler.stop();
  });
  sampler.drain();
  const s = sampler.stats();
  return {
    rateHz,
    achievedHz: s.achievedRateHz,
    dropped: s.dropped,
    overruns: s.overruns,
    latenessUs: s.latenessUs,
    cpuPercent,
    threadCpuPercent,
    cpuPerTickUs: (cpuPercent / 100 / s.achievedRateHz) * 1e6,
    realtime: s.realtime,
    settings: s.settings,
    faultingDrains: faulting / (drains - 1),
  };
}

/** CPU time the sampler thread (named wattmeter) has run, ns (/proc schedstat: exact, not ticks). */
function samplerThreadCpuNs(): number {
  for (const task of readdirSync('/proc/self/task')) {
    const dir = `/proc/self/task/${task}`;
    if (readFileSync(`${dir}/comm`, 'utf8').trim() === 'wattmeter') return Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]);
  }
  return NaN;
}

/** Builds bench/floor.c into `dir`; undefined (with a note) where there is no C compiler. */
function buildFloor(dir: string): string | undefined {
  const binary = path.join(dir, 'floor');
  const source = new URL('../../bench/floor.c', import.meta.url).pathname;
  try {
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'pipe' });
    return binary;
  } catch (error) {
    console.log(`(no CPU floor: cc could not build ${source}: ${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

export interface FloorRun {
  cpuPercent: number;
  overruns: number;
  latenessUs: Lateness;
  /** The slice sched_getattr reported in force. */
  sliceUs: number;
  /** Whether SCHED_FIFO was granted. */
  fifo: boolean;
}

/** The bare C loop at `rateHz` on the same files, with the default slice, the 0.1 ms slice or SCHED_FIFO. */
export async function floorRun(binary: string, files: string[], rateHz: number, seconds: number, setting: 'default' | 'slice' | 'fifo'): Promise<FloorRun> {
  const args = [...(setting === 'default' ? [] : [`--${setting}`]), String(rateHz), String(seconds), ...files];
  const { stdout } = await execFileAsync(binary, args, { encoding: 'utf8' });
  return JSON.parse(stdout) as FloorRun;
}

/** Two busy loops beside the run (one per CPU here), stopped when `body` ends. */
export async function besideHogs<T>(body: () => Promise<T>): Promise<T> {
  const hogs = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
  try {
    await sleep(200);
    return await body();
  } finally {
    for (const hog of hogs) hog.kill('SIGKILL');
  }
}
