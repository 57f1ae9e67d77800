// The exporters' building blocks on known data: millisecond folding, multirate lines in
// both exposition formats, Accept negotiation, the remote-write queue, labels and
// encoding. (Against real stores: the other exporters-*.test.ts.)
import test from 'ava';
import type { Batch, Domain } from '../../lib/index.js';
import { MillisecondFolder, type Folded } from '../../lib/exporters/fold.js';
import { SampleQueue, type Series } from '../../lib/prometheus/queue.js';
import { MultirateWindow } from '../../lib/exporters/multirate.js';
import { decodeWriteRequest, encodeWriteRequest, sortedLabels, type SeriesColumns } from '../../lib/prometheus/prompb.js';
import { negotiateFormat, type ExpositionFormat } from '../../lib/prometheus/accept.js';
import { family, header, type MetricInfo } from '../../lib/prometheus/metric.js';
import { renderLines } from '../../lib/prometheus/text.js';

const DOMAINS: Domain[] = [
  { name: 'package-0', source: 'powercap', path: '/x', maxEnergyRangeUj: 1e12 },
  { name: 'dram-0', source: 'powercap', path: '/y', maxEnergyRangeUj: 1e12 },
];

/** Ticks at the given times; package draws 1 W, dram 2 W, from the first tick. */
function batch(times: number[]): Batch {
  const t0 = 1000.2;
  return {
    domains: DOMAINS,
    timestampsMs: Float64Array.from(times),
    energyUj: [Float64Array.from(times, (t) => (t - t0) * 1000), Float64Array.from(times, (t) => (t - t0) * 2000)],
    length: times.length,
  };
}

const plain = (f: Folded) => ({
  timestampsMs: [...f.timestampsMs],
  energyJ: f.energyJ.map((c) => [...c].map((v) => +v.toFixed(9))),
  powerW: f.powerW.map((c) => [...c].map((v) => +v.toFixed(6))),
});

test('folding keeps the last tick of each millisecond, holds back the newest until it is complete', (t) => {
  const folder = new MillisecondFolder(DOMAINS);
  const out = folder.push(batch([1000.2, 1000.6, 1001.3, 1001.8, 1003.1]));
  // 1000.2 is the zero of the counters; 1000.6 and 1001.8 end their milliseconds; 1003.1
  // waits, as a later tick of millisecond 1003 may still come.
  t.deepEqual(plain(out), {
    timestampsMs: [1000, 1001],
    energyJ: [
      [0.0004, 0.0016],
      [0.0008, 0.0032],
    ],
    powerW: [
      [1, 1],
      [2, 2],
    ],
  });
  t.deepEqual(plain(folder.flush()), { timestampsMs: [1003], energyJ: [[0.0029], [0.0058]], powerW: [[1], [2]] });
  t.is(folder.flush().length, 0);
});

test('folding gives the same samples however the ticks are split into drains', (t) => {
  const times = [1000.2, 1000.5, 1000.9, 1001.1, 1002.4, 1002.6, 1002.99, 1004.0, 1004.5, 1007.3];
  const whole = new MillisecondFolder(DOMAINS);
  const expected = [whole.push(batch(times)), whole.flush()].map(plain);
  const pieces = new MillisecondFolder(DOMAINS);
  const got = times.map((time) => plain(pieces.push(batch([time]))));
  got.push(plain(pieces.flush()));
  const join = (parts: ReturnType<typeof plain>[]) => parts.flatMap((p) => p.timestampsMs.map((ms, i) => [ms, p.energyJ[0][i], p.powerW[1][i]]));
  t.deepEqual(join(got), join(expected));
  t.deepEqual(join(expected).map(([ms]) => ms), [1000, 1001, 1002, 1004, 1007]);
});

const series = (name: string): Series => ({ labels: sortedLabels(name, { exporter: 'remote_write' }) });
/** A taken series' samples as [timestamp, value] pairs. */
const pairs = (s: SeriesColumns) => s.samples.flatMap((c) => [...c.timestampsMs].map((t, i) => [t, c.values[i]]));

test('the queue hands out samples per series in time order, at most maxSamples at a time', (t) => {
  const queue = new SampleQueue(1000);
  const [a, b, c] = [series('a'), series('b'), series('c')];
  queue.push([a, b], Float64Array.of(1, 2, 3), [Float64Array.of(10, 20, 30), Float64Array.of(11, 21, 31)]);
  queue.push([c], Float64Array.of(3), [Float64Array.of(99)]);
  queue.push([a, b], Float64Array.of(4, 5), [Float64Array.of(40, 50), Float64Array.of(41, 51)]);
  t.is(queue.length, 11);

  const first = queue.take(5); // two rows of a,b (4 samples); the third row would exceed 5
  t.is(first.samples, 4);
  t.deepEqual(first.timeseries.map((s) => pairs(s).map(([ts]) => ts)), [[1, 2], [1, 2]]);
  const second = queue.take(100);
  t.is(second.samples, 7);
  t.deepEqual(
    second.timeseries.map((s) => [s.labels[0].value, pairs(s).map(([, v]) => v)]),
    [
      ['a', [30, 40, 50]],
      ['b', [31, 41, 51]],
      ['c', [99]],
    ],
  );
  t.is(queue.length, 0);
});

test('a full queue drops its oldest rows, and says how many samples', (t) => {
  const queue = new SampleQueue(6);
  const [a, b] = [series('a'), series('b')];
  t.is(queue.push([a, b], Float64Array.of(1, 2), [Float64Array.of(1, 2), Float64Array.of(1, 2)]), 0);
  t.is(queue.push([a, b], Float64Array.of(3, 4, 5), [Float64Array.of(3, 4, 5), Float64Array.of(3, 4, 5)]), 4);
  t.is(queue.length, 6);
  const taken = queue.take(100);
  t.deepEqual(pairs(taken.timeseries[0]).map(([ts]) => ts), [3, 4, 5]);
  t.is(queue.clear(), 0);
});

test('remote-write labels are sorted by name with __name__, and never empty', (t) => {
  t.deepEqual(
    sortedLabels('wattmeter_power_watts', { source: 'msr', domain: 'psys', Zeta: 'upper case sorts first', instance: 'h' }).map((l) => l.name),
    ['Zeta', '__name__', 'domain', 'instance', 'source'],
  );
  t.throws(() => sortedLabels('x', { job: '' }), { message: /job of x is empty/ });
});

test('the column encoder writes WriteRequests that protobufjs reads back', (t) => {
  // Timestamps around each varint length boundary, values of every kind.
  const timestampsMs = Float64Array.of(0, 127, 128, 16383, 16384, 2 ** 35 - 1, 2 ** 35, 1_795_000_000_123, 2 ** 42);
  const values = Float64Array.of(0, -1.5, 1e-300, 123456.789, Number.MAX_VALUE, NaN, Infinity, 20.125, -0);
  const timeseries = [
    { labels: sortedLabels('m', { job: 'j' }), samples: [{ timestampsMs: timestampsMs.subarray(0, 4), values: values.subarray(0, 4) }, { timestampsMs: timestampsMs.subarray(4), values: values.subarray(4) }] },
    { labels: sortedLabels('n', { job: 'j', instance: 'ü' }), samples: [{ timestampsMs: Float64Array.of(5), values: Float64Array.of(7) }] },
  ];
  const decoded = decodeWriteRequest(encodeWriteRequest(timeseries)).timeseries;
  t.deepEqual(decoded.map((s) => s.labels), timeseries.map((s) => s.labels));
  t.deepEqual(decoded.map((s) => s.samples.map((x) => [x.timestamp, x.value])), timeseries.map(pairs));
});

test('multirate lines: 1 uJ / 1 uW fixed-point, the shortest form beyond 2^53 uJ, one line per ms', (t) => {
  const domains = DOMAINS.slice(0, 1);
  const window = new MultirateWindow(domains, 60_000);
  const times = [1000.1, 1001.2, 1002.3, 1002.9, 1003.4, 1004.5, 1005.6, 1006.7];
  const uj = [0, 1e6, 1_000_000.4, 1_000_000.6, 123_456_789_012, 1e306, NaN, 5];
  window.add({ domains, timestampsMs: Float64Array.from(times), energyUj: [Float64Array.from(uj)], length: times.length }, 1007);
  const text = Buffer.concat(window.scrape(1007).chunks).toString();
  const energy = [...text.matchAll(/^wattmeter_energy_joules_total\{domain="package-0",exporter="multirate",source="powercap"\} (\S+) (\d+)$/gm)];
  t.deepEqual(
    energy.map((m) => [m[1], m[2]]),
    [
      ['1.000000', '1001'],
      ['1.000001', '1002'], // 1002.3 and 1002.9 fold into the later
      ['123456.789012', '1003'],
      ['1e+300', '1004'],
      ['NaN', '1005'],
    ],
  );
  t.regex(text, /^wattmeter_power_watts\{[^}]*\} 909\.090909 1001$/m);
});

test('Accept: the best format the exporter writes, by q-value, then by how specifically it is named', (t) => {
  const cases: [string | undefined, ExpositionFormat][] = [
    // What Prometheus 2.42 sends.
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'openmetrics'],
    [undefined, 'text'],
    ['', 'text'],
    ['*/*', 'text'],
    ['text/plain', 'text'],
    ['text/plain;version=0.0.4', 'text'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; Version="1.0.0"', 'openmetrics'],
    ['application/*', 'openmetrics'],
    ['application/openmetrics-text, */*', 'openmetrics'], // equal q: the more specific
    ['application/openmetrics-text, text/plain', 'text'], // equal q, equally specific: text
    ['application/openmetrics-text;q=0.4, text/plain;q=0.5', 'text'],
    ['text/plain;q=0, */*', 'openmetrics'], // text refused outright
    ['application/openmetrics-text;version=0.0.1', 'text'], // only 1.0.0 is written
    ['text/plain;version=1.0.0, application/openmetrics-text;q=0.2', 'openmetrics'],
    ['application/openmetrics-text;q=abc, text/plain;q=0.1', 'text'], // a malformed q drops its range
    ['application/json', 'text'], // nothing acceptable: text, like Prometheus's own client
    ['garbage, ,;;', 'text'],
  ];
  for (const [accept, format] of cases) t.is(negotiateFormat(accept), format, String(accept));
});

test('family headers and untimestamped samples: OpenMetrics counters are named without _total, samples with', (t) => {
  const counter: MetricInfo = { name: 'x_events_total', type: 'counter', help: 'Say "hi" \\ back\nnow.' };
  const gauge: MetricInfo = { name: 'x_level', type: 'gauge', help: 'Level.' };
  t.is(header(counter), '# HELP x_events_total Say "hi" \\\\ back\\nnow.\n# TYPE x_events_total counter\n');
  t.is(header(counter, 'openmetrics'), '# HELP x_events Say \\"hi\\" \\\\ back\\nnow.\n# TYPE x_events counter\n');
  t.is(
    family(counter, [[{ b: '1', a: 'q"\n' }, 3], [{ a: '2' }, Infinity]], 'openmetrics'),
    '# HELP x_events Say \\"hi\\" \\\\ back\\nnow.\n# TYPE x_events counter\nx_events_total{a="q\\"\\n",b="1"} 3\nx_events_total{a="2"} +Inf\n',
  );
  t.is(family(gauge, [[{}, 0.5]], 'openmetrics'), family(gauge, [[{}, 0.5]], 'text'));
  // A counter named without _total (none is here) gets it on its OpenMetrics samples only.
  t.is(family({ ...counter, name: 'x_events' }, [[{}, 1]], 'text').split('\n')[2], 'x_events{} 1');
  t.is(family({ ...counter, name: 'x_events' }, [[{}, 1]], 'openmetrics').split('\n')[2], 'x_events_total{} 1');
});

test('timestamps: integer ms in the text format, seconds with exactly three decimals in OpenMetrics', (t) => {
  const ms = Float64Array.of(0, 5, 999, 1000, 1001, 1_700_000_000_000, 1_700_000_000_120, 1_799_999_999_999);
  const values = new Float64Array(ms.length).fill(1);
  const lines = (format: ExpositionFormat) => renderLines([{ prefix: Buffer.from('m '), values }], ms, format)[0].toString().split('\n').slice(0, -1).map((l) => l.split(' ')[2]);
  t.deepEqual(lines('text'), ['0', '5', '999', '1000', '1001', '1700000000000', '1700000000120', '1799999999999']);
  t.deepEqual(lines('openmetrics'), ['0.000', '0.005', '0.999', '1.000', '1.001', '1700000000.000', '1700000000.120', '1799999999.999']);
});

test('multirate in OpenMetrics: the same samples as in the text format, counter families named without _total', (t) => {
  const domains = DOMAINS;
  const window = new MultirateWindow(domains, 60_000);
  const times = [1700000000999.4, 1700000001000.1, 1700000001000.7, 1700000001001.5, 1700000001003.2, 1700000001004.0];
  window.add(batch(times), 1700000001005);
  const text = Buffer.concat(window.scrape(1700000001005, 'text').chunks).toString();
  const om = Buffer.concat(window.scrape(1700000001005, 'openmetrics').chunks).toString();
  t.deepEqual(
    om.split('\n').filter((l) => l.startsWith('#')),
    [
      '# HELP wattmeter_energy_joules Energy used since the exporter started (its first tick), wrap-corrected.',
      '# TYPE wattmeter_energy_joules counter',
      `# HELP wattmeter_power_watts ${om.split('\n').find((l) => l.startsWith('# HELP wattmeter_power_watts'))!.slice(29)}`,
      '# TYPE wattmeter_power_watts gauge',
    ],
  );
  const samples = (body: string, toMs: (ts: string) => number) =>
    body
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const [series, value, ts] = l.split(' ');
        return [series, value, toMs(ts)];
      });
  const fromText = samples(text, Number);
  t.is(fromText.length, 3 * 2 * domains.length); // ms 1000, 1001 and 1003; 1004 is held back
  t.deepEqual(samples(om, (ts) => Math.round(Number(ts) * 1000)), fromText);
  t.regex(om, /^wattmeter_energy_joules_total\{domain="dram-0",exporter="multirate",source="powercap"\} \d+\.\d{6} 1700000001\.003$/m);
});

test('multirate renders a format again after its scrapers stopped and its text was dropped', (t) => {
  const window = new MultirateWindow(DOMAINS, 1000);
  const at = (ms: number) => [ms + 0.2, ms + 1.2, ms + 2.2];
  const scrape = (nowMs: number, format: ExpositionFormat) => Buffer.concat(window.scrape(nowMs, format).chunks).toString();
  window.add(batch(at(10_000)), 10_003);
  const first = scrape(10_003, 'openmetrics');
  for (let ms = 10_100; ms <= 12_000; ms += 100) window.add(batch(at(ms)), ms + 3); // no scrape for 2 s: dropped
  window.add(batch(at(12_100)), 12_103);
  const again = scrape(12_103, 'openmetrics');
  t.notRegex(again, / 10\.\d{3}$/m); // the first samples left the window
  t.regex(first, / 10\.001$/m);
  t.is(again, scrape(12_103, 'text').replace(/ (\d+)(\d{3})$/gm, ' $1.$2').replace(/^# (HELP|TYPE) wattmeter_energy_joules_total/gm, '# $1 wattmeter_energy_joules'));
});
