// What attribution costs: the sampler at 1 kHz alone, then the same with its CPU-time
// thread reading N processes at 10 Hz and 50 cgroups at 100 Hz and the JavaScript side
// attributing every round, in the same run, alternated (A B A B) so the machine's load
// falls on both alike. CPU is this process's (the fake files are advanced by a writer
// process: the processes' every 100 ms, the cgroups' and /proc/stat every 10 ms, so that
// every cgroup round sees them move as on a real machine; the package counters by another
// every ms). Prints a table;
// `npm run bench:attribution` (about 90 s).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { cpus, loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler, type SamplerOptions } from '../lib/index.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import type { FakeProcfsSpec } from '../fixtures/fake-procfs.js';

const SECONDS = 5;
const CGROUPS = 50;
const SHM = '/dev/shm';
const PROCESSES = [50, 500, 5000];
const WRITER = fileURLToPath(new URL('../fixtures/procfs-writer.js', import.meta.url));

/** CPU seconds of this process's thread named `name` (the CPU-time thread: wattmeter-cpu). */
function threadCpuS(name: string): number {
  let ticks = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== name) continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // ended meanwhile
    }
  }
  return ticks / 100;
}

interface Run {
  cpuPercent: number; // of one core, the whole process
  threadPercent: number; // the CPU-time thread alone
  rounds: number;
  droppedRounds: number;
  tracked: number;
}

async function run(options: SamplerOptions, seconds = SECONDS): Promise<Run> {
  using sampler = openSampler({ rateHz: 1000, ...options });
  const cpu = process.cpuUsage();
  const wall = performance.now();
  sampler.start();
  const drainer = setInterval(() => sampler.drain(), 100);
  await sleep(seconds * 1000);
  const thread = threadCpuS('wattmeter-cpu');
  clearInterval(drainer);
  sampler.stop();
  sampler.drain();
  const used = process.cpuUsage(cpu);
  const wallS = (performance.now() - wall) / 1000;
  const stats = sampler.attribution?.stats();
  return {
    cpuPercent: ((used.user + used.system) / 1e6 / wallS) * 100,
    threadPercent: (thread / wallS) * 100,
    rounds: stats?.rounds ?? 0,
    droppedRounds: stats?.droppedRounds ?? 0,
    tracked: (stats?.processesTracked ?? 0) + (stats?.cgroupsTracked ?? 0),
  };
}

function spec(processes: number): FakeProcfsSpec {
  return {
    cpus: 2,
    otherCpu: 0.1,
    processes: Array.from({ length: processes }, (_, i) => ({ pid: 1000 + i, name: `worker-${i}`, cpu: (i % 10) / 100 })),
    cgroups: Array.from({ length: CGROUPS }, (_, i) => ({ path: `/system.slice/unit-${i}.service`, cpu: (i % 5) / 100 })),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Where the fake /proc and cgroup files go: tmpfs where there is one, in memory like the
 * kernel's procfs and cgroupfs (on a disk filesystem every read after a write would
 * journal an atime update, a quarter of the reading thread's time in perf, that the
 * kernel's files never cost).
 */
function fakeProcfsRoot(): string {
  if (!existsSync(SHM)) return tempRoot('wattmeter-bench-');
  const root = mkdtempSync(path.join(SHM, 'wattmeter-bench-'));
  chmodSync(root, 0o755);
  return root;
}

async function measure(processes: number, sysfsRoot: string): Promise<string> {
  const root = fakeProcfsRoot();
  const writer: ChildProcess = fork(WRITER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  writer.send({ root, spec: spec(processes), processPeriodMs: 100, cgroupPeriodMs: 10 });
  await once(writer, 'message');
  try {
    const alone: Run[] = [];
    const attributing: Run[] = [];
    const options = { sysfsRoot, procRoot: `${root}/proc`, allProcesses: true, cgroups: true, cgroupRoot: `${root}/cgroup`, cgroupDepth: 2 };
    if (processes === PROCESSES[0]) await run(options, 2); // warm-up, not counted: the JIT compiles the attribution code
    for (let i = 0; i < 2; i++) {
      alone.push(await run({ sysfsRoot }));
      attributing.push(await run(options));
    }
    const a = mean(alone.map((r) => r.cpuPercent));
    const b = mean(attributing.map((r) => r.cpuPercent));
    const last = attributing.at(-1)!;
    return `| ${processes} | ${CGROUPS} | ${last.tracked} | ${a.toFixed(2)} | ${b.toFixed(2)} | **${(b - a).toFixed(2)}** | ${mean(attributing.map((r) => r.threadPercent)).toFixed(2)} | ${last.rounds} | ${last.droppedRounds} |`;
  } finally {
    writer.kill();
    removeRoot(root);
  }
}

const sysfsRoot = tempRoot('wattmeter-bench-');
const energy = await FakeWriter.start(fakePowercap(sysfsRoot, fiveZones()));
try {
  console.log(
  `attribution cost: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load ${loadavg()[0].toFixed(1)}; sampler at 1 kHz, drained every 100 ms; processes at 10 Hz, cgroups at 100 Hz; ${SECONDS} s per run, A B A B; fake /proc and cgroups in ${existsSync(SHM) ? SHM : tmpdir()}`,
);
  console.log('CPU in % of one core, this process; "added" is attributing minus alone, in the same run.\n');
  console.log('| processes | cgroups | tracked | alone % | attributing % | added % | CPU-time thread % | rounds | dropped |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const processes of PROCESSES) console.log(await measure(processes, sysfsRoot));
  console.log(`\nload ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`);
} finally {
  await energy.stop();
  removeRoot(sysfsRoot);
}
