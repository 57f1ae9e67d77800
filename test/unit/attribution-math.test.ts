// The attribution maths on made-up CPU-time records and energy ticks: splitEnergy and the
// Attributor, with no thread, no file and no clock, so every value is asserted exactly.
// What the native thread reads from real and fake files is attribution-*.test.ts's part.
import test from 'ava';
import { Attributor, CGROUP_ROUND_SLOT, PROCESS_ROUND_SLOT, type EnergyColumns } from '../../lib/attribution/attributor.js';
import { concatAttribution } from '../../lib/attribution/concat.js';
import { exclusiveBusy, splitEnergy } from '../../lib/attribution/split.js';
import { identifyCgroup } from '../../lib/attribution/cgroup-name.js';
import type { AttributedIntervals, Consumer } from '../../lib/attribution/types.js';

test('splitEnergy: parts are floors of the busy shares, the rest unattributed, the sum exact', (t) => {
  t.deepEqual(splitEnergy(1000, 10, [6, 3]), { partsUj: [600, 300], unattributedUj: 100 });
  t.deepEqual(splitEnergy(1000, 3, [1, 1, 1]), { partsUj: [333, 333, 333], unattributedUj: 1 });
  // Consumers read as busier than the system (read skew): the whole is their sum.
  t.deepEqual(splitEnergy(900, 2, [2, 1]), { partsUj: [600, 300], unattributedUj: 0 });
  // No busy time: an idle machine's energy is nobody's.
  t.deepEqual(splitEnergy(500, 0, [0, 0]), { partsUj: [0, 0], unattributedUj: 500 });
  t.deepEqual(splitEnergy(0, 10, [5]), { partsUj: [0], unattributedUj: 0 });
  // Large totals stay whole and exact in sum.
  const big = splitEnergy(8_000_000_000_007, 7_000_000_001, [3_000_000_000, 2_999_999_999, 1]);
  t.true(big.partsUj.every(Number.isInteger));
  t.is(big.partsUj.reduce((a, b) => a + b, 0) + big.unattributedUj, 8_000_000_000_007);
});

test('exclusiveBusy: a cgroup keeps its own time only, never below zero', (t) => {
  // 0 is the parent of 1 and 2; 3 is alone.
  t.deepEqual(Array.from(exclusiveBusy([10, 4, 3, 5], [-1, 0, 0, -1])), [3, 4, 3, 5]);
  t.deepEqual(Array.from(exclusiveBusy([5, 4, 3], [-1, 0, 0])), [0, 4, 3]);
});

type Record = readonly [slot: number, value: number];
interface RoundSpec {
  ms: number;
  system: number;
  records?: readonly Record[];
  closing?: number;
}

/** The native drain format: column-major (timestamp, slot, value), each round closed by its system record. */
function cpu(rounds: readonly RoundSpec[]): Float64Array {
  const rows = rounds.flatMap((r) => [...(r.records ?? []).map(([slot, value]) => [r.ms, slot, value]), [r.ms, r.closing ?? PROCESS_ROUND_SLOT, r.system]]);
  const n = rows.length;
  const out = new Float64Array(3 * n);
  rows.forEach((row, i) => row.forEach((v, c) => (out[c * n + i] = v)));
  return out;
}

/** A 1 kHz counter at `watts` from fromMs to toMs (cumulative µJ since 0 ms). */
function ticks(watts: number, fromMs: number, toMs: number, watts2?: number): EnergyColumns {
  const times: number[] = [];
  for (let ms = fromMs; ms <= toMs; ms++) times.push(ms);
  return {
    timestampsMs: Float64Array.from(times),
    energyUj: [Float64Array.from(times, (ms) => watts * 1000 * ms), Float64Array.from(times, (ms) => (watts2 ?? 0) * 1000 * ms)],
  };
}

function attributor(ended: Consumer[] = []): Attributor {
  return new Attributor({
    domains: [0],
    domainNames: ['package-0'],
    processes: true,
    cgroups: true,
    clockTicksPerSecond: 100,
    onEnded: (_, consumer) => ended.push(consumer),
  });
}

const process = (pid: number, startTicks = 1): Omit<Consumer, 'index'> => ({
  kind: 'process', id: String(pid), key: `process/${pid}/${startTicks}`, name: `p${pid}`, pid, startTicks, endedMs: NaN,
});
const cgroup = (id: string): Omit<Consumer, 'index'> => ({ kind: 'cgroup', id, key: `cgroup/${id}`, name: id, endedMs: NaN });

/** Each interval: measured == unattributed + the consumers' latest cumulative energy, exactly. */
function assertExactSums(t: import('ava').ExecutionContext, view: AttributedIntervals, startUj: Map<number, number> = new Map()) {
  const latest = new Map(startUj);
  let row = 0;
  for (let i = 0; i < view.endMs.length; i++) {
    for (; row < view.rows.length && view.rows.interval[row] === i; row++) latest.set(view.rows.consumer[row], view.rows.energyUj[0][row]);
    const parts = [...latest.values()].reduce((a, b) => a + b, 0);
    t.is(parts + view.unattributedUj[0][i], view.measuredUj[0][i], `interval ${i}`);
  }
}

test('shares follow busy ticks exactly; what is untracked stays unattributed; the sum is exact', (t) => {
  const a = attributor();
  a.addConsumer(0, process(10));
  a.addConsumer(1, process(11));
  // 10 W x 100 ms = 1e6 µJ per interval.
  const out = a.ingest(
    ticks(10, 0, 400),
    cpu([
      { ms: 0, system: 0, records: [[0, 0], [1, 0]] },
      { ms: 100, system: 20, records: [[0, 15], [1, 5]] }, // 15 : 5 of 20 busy
      { ms: 200, system: 40, records: [[0, 20]] }, // 5 of 20; 11 idle in CPU terms
      { ms: 300, system: 40 }, // nothing busy
      { ms: 400.5, system: 43, records: [[1, 8]] }, // waits: no tick at or after 400.5
    ]),
  )!;
  const view = out.processes!;
  t.deepEqual(Array.from(view.endMs), [100, 200, 300]);
  t.deepEqual(Array.from(view.measuredUj[0]), [1e6, 2e6, 3e6]);
  t.deepEqual(Array.from(view.rows.consumer), [0, 1, 0]);
  t.deepEqual(Array.from(view.rows.interval), [0, 0, 1]);
  t.deepEqual(Array.from(view.rows.energyUj[0]), [750_000, 250_000, 1_000_000]);
  t.deepEqual(Array.from(view.rows.cpuSeconds), [0.15, 0.05, 0.2]);
  t.deepEqual(Array.from(view.unattributedUj[0]), [0, 750_000, 1_750_000]);
  assertExactSums(t, view);
  // The waiting round is attributed once a tick after it arrives: 43 - 40 = 3 busy, all p11's.
  const later = a.ingest(ticks(10, 401, 402), new Float64Array(0))!.processes!;
  t.deepEqual(Array.from(later.endMs), [400.5]);
  t.deepEqual(Array.from(later.measuredUj[0]), [4_005_000]);
  t.deepEqual(Array.from(later.rows.energyUj[0]), [250_000 + 1_005_000]);
  const totals = a.totals('process')!;
  t.deepEqual(totals.consumers.map((c) => c.energyUj[0]), [1_000_000, 1_255_000]);
  t.is(totals.measuredUj[0], totals.unattributedUj[0] + 2_255_000);
});

test('an interval boundary between ticks gets the energy interpolated, rounded to whole µJ', (t) => {
  const a = attributor();
  a.addConsumer(0, process(10));
  const view = a.ingest(ticks(3, 0, 20), cpu([{ ms: 0.25, system: 0, records: [[0, 0]] }, { ms: 10.5, system: 1, records: [[0, 1]] }]))!.processes!;
  // 3 W from 0.25 ms to 10.5 ms: round(31.5 mJ) - round(0.75 mJ) in µJ.
  t.deepEqual(Array.from(view.measuredUj[0]), [31_500 - 750]);
  t.deepEqual(Array.from(view.rows.energyUj[0]), [30_750]);
});

test('a process that ends is counted up to its last reading, then not again; a reused pid is a new consumer', (t) => {
  const ended: Consumer[] = [];
  const a = attributor(ended);
  const first = a.addConsumer(0, process(10, 100));
  const out = a.ingest(
    ticks(10, 0, 300),
    cpu([
      { ms: 0, system: 0, records: [[0, 0]] },
      { ms: 100, system: 10, records: [[0, 10], [0, NaN]] }, // its last value, then the end
      { ms: 200, system: 10 },
    ]),
  )!.processes!;
  t.deepEqual(Array.from(out.rows.energyUj[0]), [1e6]);
  t.is(first.endedMs, 100);
  t.deepEqual(ended, [first]);
  // The tracker gives the reused pid a new slot and a new consumer (another start time).
  const second = a.addConsumer(1, process(10, 250));
  t.not(second.key, first.key);
  const again = a.ingest(ticks(10, 301, 500), cpu([{ ms: 300, system: 10, records: [[1, 0], [0, 50]] }, { ms: 400, system: 20, records: [[1, 10]] }]))!.processes!;
  // The stale slot 0 record is ignored; the new process gets the new interval.
  t.deepEqual(Array.from(again.rows.consumer), [second.index]);
  t.deepEqual(Array.from(again.rows.energyUj[0]), [1e6]);
  t.is(a.totals('process')!.consumers[0].energyUj[0], 1e6, 'the ended one keeps its total');
});

test('nested cgroups: each counts its own time only, so nothing is counted twice', (t) => {
  const a = attributor();
  a.addConsumer(0, cgroup('/system.slice'));
  a.addConsumer(1, cgroup('/system.slice/a.service'), 0);
  a.addConsumer(2, cgroup('/user.slice'));
  const g = (ms: number, system: number, records: Record[] = []) => ({ ms, system, records, closing: CGROUP_ROUND_SLOT });
  const view = a.ingest(
    ticks(10, 0, 20),
    cpu([g(0, 0, [[0, 0], [1, 0], [2, 0]]), g(10, 1e7, [[0, 6e6], [1, 4e6], [2, 2e6]])]),
  )!.cgroups!;
  // slice 6 ms of which its service 4 ms: own 2 ms; user 2 ms; 2 ms of the root's own.
  t.deepEqual(Array.from(view.rows.energyUj[0]), [20_000, 40_000, 20_000]);
  t.deepEqual(Array.from(view.unattributedUj[0]), [20_000]);
  assertExactSums(t, view);
  t.deepEqual(Array.from(view.rows.cpuSeconds), [0.006, 0.004, 0.002], 'cpuSeconds stay inclusive, as the cgroup counts them');
});

test('a removed cgroup ends where the tracker says; its energy stays in the totals', (t) => {
  const a = attributor();
  const gone = a.addConsumer(0, cgroup('/gone'));
  a.ingest(ticks(10, 0, 20), cpu([{ ms: 0, system: 0, records: [[0, 0]], closing: CGROUP_ROUND_SLOT }, { ms: 10, system: 1e7, records: [[0, 1e7]], closing: CGROUP_ROUND_SLOT }]));
  a.endSlot('cgroup', 0, 15);
  t.is(gone.endedMs, 15);
  const later = a.ingest(ticks(10, 21, 40), cpu([{ ms: 30, system: 2e7, records: [[0, 2e7]], closing: CGROUP_ROUND_SLOT }]))!.cgroups!;
  t.is(later.rows.length, 0);
  t.deepEqual(Array.from(later.unattributedUj[0]), [200_000]);
  t.is(a.totals('cgroup')!.consumers[0].energyUj[0], 100_000);
});

test('concatAttribution joins intervals and renumbers rows', (t) => {
  const a = attributor();
  a.addConsumer(0, process(10));
  const one = a.ingest(ticks(10, 0, 150), cpu([{ ms: 0, system: 0, records: [[0, 0]] }, { ms: 100, system: 10, records: [[0, 5]] }]));
  const two = a.ingest(ticks(10, 151, 300), cpu([{ ms: 200, system: 20, records: [[0, 10]] }]));
  const joined = concatAttribution([one, undefined, two])!.processes!;
  t.deepEqual(Array.from(joined.endMs), [100, 200]);
  t.deepEqual(Array.from(joined.rows.interval), [0, 1]);
  t.deepEqual(Array.from(joined.rows.energyUj[0]), [500_000, 1_000_000]);
});

test('cgroup paths name containers, pods and systemd units as a user knows them', (t) => {
  const id = '4f2a9c1b2e3d'.padEnd(64, 'a');
  t.deepEqual(identifyCgroup(`/system.slice/docker-${id}.scope`), { name: 'docker 4f2a9c1b2e3d', unit: `docker-${id}.scope`, container: { runtime: 'docker', id } });
  t.deepEqual(identifyCgroup(`/docker/${id}`), { name: 'docker 4f2a9c1b2e3d', container: { runtime: 'docker', id } });
  const uid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice`;
  t.deepEqual(identifyCgroup(pod), { name: `pod ${uid}`, podUid: uid, unit: `kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice` });
  t.like(identifyCgroup(`${pod}/cri-containerd-${id}.scope`), { name: 'containerd 4f2a9c1b2e3d', podUid: uid, container: { runtime: 'containerd', id } });
  t.like(identifyCgroup(`/kubepods/burstable/pod${uid}/${id}`), { name: 'containerd 4f2a9c1b2e3d', podUid: uid });
  t.deepEqual(identifyCgroup('/system.slice/nginx.service'), { name: 'nginx.service', unit: 'nginx.service' });
  t.deepEqual(identifyCgroup('/mygroup'), { name: 'mygroup' });
});
