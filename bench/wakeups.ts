// Why the sampler thread wakes late beside CPU hogs, from the kernel's own record. It
// traces (tracefs: needs root) three kinds of 1 kHz run in turn beside two CPU hogs: the
// sampler drained every 100 ms into slabs (lib/slab.ts), the same with each drain also
// copied into a fresh array (the memory a drain had before slabs), and the bare C loop
// (bench/floor.c). For each it counts the waking thread's slow switch-ins: over 40 us from
// sched_switch to the TLB flush that enters its address space, 3 to 5 us otherwise. On the
// Firecracker VM this was written on, they came more often right after another thread of
// the same process had faulted in a page, and they are much of the lateness tail.
// `npm run bench:wakeups` (about 2 min).
import { readFileSync, writeFileSync } from 'node:fs';
import { besideHogs, benchBed, floorRun, nativeRun } from './runs.js';

const TRACING = '/sys/kernel/tracing';
const [ROUNDS, SECONDS, SLOW_US] = [5, 6, 40]; // 6 s: past the first slab (5.5 s at 1 kHz)
const EVENTS = ['sched:sched_switch', 'tlb:tlb_flush'];

const tracing = (file: string, value: string) => writeFileSync(`${TRACING}/${file}`, value);
try {
  tracing('tracing_on', '0');
  tracing('set_event', `${EVENTS.join('\n')}\n`);
  tracing('buffer_size_kb', '16384');
} catch (error) {
  console.error(`bench:wakeups needs to write ${TRACING} (${(error as Error).message.split('\n')[0]}).`);
  console.error('Run it as root, with tracefs mounted: mount -t tracefs nodev /sys/kernel/tracing');
  process.exit(1);
}

interface Count {
  switchIns: number;
  slow: number;
  faultingDrains: number;
  p99Us: number;
}

/** Runs `body` traced and counts the switch-ins of threads named `thread`. */
async function traced(thread: string, body: () => Promise<{ latenessUs: { p99: number }; faultingDrains?: number }>): Promise<Count> {
  tracing('trace', '');
  tracing('tracing_on', '1');
  const { latenessUs, faultingDrains = NaN } = await body();
  tracing('tracing_on', '0');
  const count: Count = { switchIns: 0, slow: 0, faultingDrains, p99Us: latenessUs.p99 };
  const switchedAt = new Map<number, number | undefined>(); // per CPU: when the thread was switched to
  const line = /\[(\d+)\]\s+\S+\s+([\d.]+): (\w+): (.*)$/;
  for (const text of readFileSync(`${TRACING}/trace`, 'utf8').split('\n')) {
    const m = line.exec(text);
    if (!m) continue;
    const [, cpu, seconds, event, args] = m;
    const us = Number(seconds) * 1e6;
    if (event === 'sched_switch') switchedAt.set(Number(cpu), args.includes(`next_comm=${thread} `) ? us : undefined);
    else if (event === 'tlb_flush') {
      const at = switchedAt.get(Number(cpu));
      if (at === undefined) continue;
      switchedAt.delete(Number(cpu));
      count.switchIns++;
      if (us - at > SLOW_US) count.slow++;
    }
  }
  return count;
}

const { root, files, writer, floor, close } = await benchBed('wattmeter-wakeups-');
try {
  await writer.pause(); // one more 1 kHz waker, which real counters are not (see bench/sampler.ts)
  const kinds = {
    'sampler, slabs': () => traced('wattmeter', () => nativeRun(root, 1000, SECONDS)),
    'sampler, fresh arrays': () => traced('wattmeter', () => nativeRun(root, 1000, SECONDS, { freshArrays: true })),
    ...(floor ? { 'bare C loop': () => traced('floor', () => floorRun(floor, files, 1000, SECONDS, 'slice')) } : {}),
  };
  const counts = Object.fromEntries(Object.keys(kinds).map((k) => [k, [] as Count[]]));
  await besideHogs(async () => {
    for (let round = 0; round < ROUNDS; round++) for (const [kind, run] of Object.entries(kinds)) counts[kind].push(await run());
  });
  console.log(`1 kHz beside two CPU hogs, ${ROUNDS} runs of ${SECONDS} s each in turn; per run:`);
  console.log(`${''.padEnd(24)}${`switch-ins over ${SLOW_US} us`.padStart(26)}${'drains with faults (%)'.padStart(24)}${'lateness p99 (us)'.padStart(22)}`);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  for (const [kind, runs] of Object.entries(counts)) {
    console.log(`${kind.padEnd(24)}${list(runs.map((r) => r.slow)).padStart(26)}${runs.map((r) => (Number.isNaN(r.faultingDrains) ? '-' : (r.faultingDrains * 100).toFixed(0))).join(', ').padStart(24)}${list(runs.map((r) => r.p99Us)).padStart(22)}`);
  }
  const switchIns = Object.values(counts).flat().map((r) => r.switchIns);
  console.log(`(of ${Math.min(...switchIns)} to ${Math.max(...switchIns)} switch-ins per run; drains with faults: 100 ms intervals, after the first drain, in which the process faulted in a page)`);
} finally {
  tracing('set_event', '');
  tracing('buffer_size_kb', '1408');
  await close();
}
