// Which consumers become exporter series, on made-up attributed intervals: processes summed
// per name (pid labels only when asked), the top N by energy over the last minute, counters
// that never go down, samples at most one per series and millisecond, and a heartbeat.
import test from 'ava';
import type { Domain } from '../../lib/batch.js';
import type { AttributedIntervals, BatchAttribution, Consumer } from '../../lib/attribution/types.js';
import { AttributionSeries, type SeriesSamples } from '../../lib/exporters/attribution.js';

const DOMAINS = [{ name: 'package-0', source: 'powercap' }] as unknown as Domain[];

function process(index: number, pid: number, name: string): Consumer {
  return { index, kind: 'process', id: String(pid), key: `process/${pid}/1`, name, pid, endedMs: NaN };
}

/** Intervals at `endMs`; each row [interval, consumer, cumulative µJ]. */
function intervals(endMs: number[], rows: [number, number, number][], unattributedUj = endMs.map(() => 0)): AttributedIntervals {
  return {
    kind: 'process',
    domains: [0],
    endMs: Float64Array.from(endMs),
    measuredUj: [Float64Array.from(endMs.map(() => 0))],
    unattributedUj: [Float64Array.from(unattributedUj)],
    rows: {
      length: rows.length,
      interval: Uint32Array.from(rows.map((r) => r[0])),
      consumer: Uint32Array.from(rows.map((r) => r[1])),
      energyUj: [Float64Array.from(rows.map((r) => r[2]))],
      cpuSeconds: Float64Array.from(rows.map(() => 0)),
    },
  };
}

const batch = (consumers: Consumer[], processes: AttributedIntervals): BatchAttribution => ({ consumers, processes });
const byLabel = (samples: SeriesSamples[], label: string) =>
  Object.fromEntries(samples.map((s) => [s.series.labels[0][label] ?? `(${s.series.info.name})`, s]));

test('processes of one name are one series, summed, ended ones included; pid labels only when asked', (t) => {
  const consumers = [process(0, 10, 'node'), process(1, 11, 'node'), process(2, 12, 'nginx')];
  const series = new AttributionSeries(DOMAINS, 'multirate');
  const samples = byLabel(series.ingest(batch(consumers, intervals([1000.4, 1100.2], [[0, 0, 100], [0, 1, 50], [0, 2, 7], [1, 0, 300]]))), 'process');
  t.deepEqual(samples.node.timestampsMs, [1000, 1100]);
  t.deepEqual(samples.node.energyJ[0], [150e-6, 350e-6]);
  t.deepEqual(samples.nginx.energyJ[0], [7e-6]);
  t.deepEqual(samples.node.series.labels[0], { domain: 'package-0', source: 'powercap', exporter: 'multirate', process: 'node' });
  t.deepEqual(samples['(wattmeter_unattributed_energy_joules_total)'].series.labels[0].view, 'process');

  const perPid = new AttributionSeries(DOMAINS, 'multirate', { processLabels: 'pid' });
  const pids = byLabel(perPid.ingest(batch(consumers, intervals([1000], [[0, 0, 100], [0, 1, 50]]))), 'pid');
  t.deepEqual(Object.keys(pids).sort(), ['(wattmeter_unattributed_energy_joules_total)', '10', '11']);
  t.is(pids['10'].series.labels[0].process, 'node');
});

test('two interval ends in one millisecond make one sample, the later totals', (t) => {
  const series = new AttributionSeries(DOMAINS, 'remote_write');
  const samples = byLabel(series.ingest(batch([process(0, 10, 'a')], intervals([5000.1, 5000.9], [[0, 0, 1], [1, 0, 2]]))), 'process');
  t.deepEqual(samples.a.timestampsMs, [5000]);
  t.deepEqual(samples.a.energyJ[0], [2e-6]);
});

test('only the top N by energy over the last minute have samples, and a counter never goes down', (t) => {
  const consumers = ['a', 'b', 'c'].map((name, i) => process(i, 10 + i, name));
  const series = new AttributionSeries(DOMAINS, 'multirate', { top: 2 });
  // First minute: c uses the least.
  let samples = series.ingest(batch(consumers, intervals([0], [[0, 0, 1000], [0, 1, 500], [0, 2, 10]])));
  samples = series.ingest(batch(consumers, intervals([1000, 1100], [[0, 0, 2000], [0, 1, 1000], [0, 2, 20], [1, 2, 30]])));
  t.deepEqual(Object.keys(byLabel(samples, 'process')).sort(), ['(wattmeter_unattributed_energy_joules_total)', 'a', 'b']);
  t.deepEqual(series.shown().map((s) => s.labels[0].process ?? 'rest'), ['rest', 'a', 'b']);
  // Over the next minute c uses the most and a nothing: c replaces a, whose counter is kept.
  const rows: [number, number, number][] = [];
  const ends: number[] = [];
  for (let s = 2; s <= 62; s++) {
    ends.push(s * 1000);
    rows.push([ends.length - 1, 2, 30 + s * 1000], [ends.length - 1, 1, 1000 + s * 10]);
  }
  samples = series.ingest(batch(consumers, intervals(ends, rows)));
  t.deepEqual(series.shown().map((s) => s.labels[0].process ?? 'rest'), ['rest', 'b', 'c']);
  const last = byLabel(samples, 'process');
  t.true(last.c.energyJ[0].every((j, i, all) => i === 0 || j >= all[i - 1]), 'never down');
  // c is shown from its first ranking on, one sample per interval end it used CPU in; a,
  // idle, had heartbeats until b's minute outweighed a's, then none.
  t.is(last.c.timestampsMs.length, ends.length);
  t.true(last.a.timestampsMs.at(-1)! < ends.at(-1)! && last.b.timestampsMs.at(-1) === ends.at(-1));
});

test('a shown series without CPU use still gets a sample a second, so rate() sees it idle', (t) => {
  const series = new AttributionSeries(DOMAINS, 'multirate');
  const ends = Array.from({ length: 31 }, (_, i) => 10_000 + i * 100);
  const samples = byLabel(series.ingest(batch([process(0, 10, 'idle')], intervals(ends, [[0, 0, 5]]))), 'process');
  t.deepEqual(samples.idle.timestampsMs, [10_000, 11_000, 12_000, 13_000]);
  t.deepEqual(samples.idle.energyJ[0], [5e-6, 5e-6, 5e-6, 5e-6]);
  // The unattributed rest gets every interval end.
  t.is(samples['(wattmeter_unattributed_energy_joules_total)'].timestampsMs.length, ends.length);
});
