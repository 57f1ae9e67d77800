// The simple exporter scraped by a real Prometheus: one sample per series per scrape, in
// OpenMetrics (which Prometheus asks for) or in the text format 0.0.4.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSimpleExporter, windowPowerWatts, type Batch } from '../lib/index.js';
import { OPENMETRICS_FORMAT, TEXT_FORMAT } from '../lib/prometheus/text.js';
import { toMicro } from '../lib/exporters/metrics.js';
import { DOMAIN_WATTS, Prometheus, fakeMachine, parseOpenMetrics, promtoolCheckMetrics } from '../fixtures/prometheus.js';
import { assertBatchReadsRecord, tapTicks } from '../fixtures/truth.js';

test.serial('Prometheus stores one sample per scrape: the energy and power of the latest tick', async (t) => {
  const { sampler, writer, clock } = await fakeMachine(t, 200);
  const tap = tapTicks(sampler); // before the exporter starts the sampler: the same first tick
  t.teardown(tap.stop);
  const exporter = await startSimpleExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => exporter.close());
  const prometheus = await Prometheus.start({ targets: [{ job: 'simple', url: exporter.url }], scrapeIntervalMs: 1000 });
  t.teardown(() => prometheus.remove());
  await prometheus.scraped('simple');
  await sleep(10_000);

  const now = Date.now();
  const [up] = await prometheus.query('sum_over_time(up{job="simple"}[1h])', now);
  const scrapes = Number(up.value[1]);
  t.true(scrapes >= 8, `${scrapes} scrapes`);
  const stored = await prometheus.queryBy('count_over_time(wattmeter_energy_joules_total{exporter="simple"}[1h])', 'domain', now);
  const energy = await prometheus.samples('wattmeter_energy_joules_total{exporter="simple"}', 'domain', now);
  const power = await prometheus.samples('wattmeter_power_watts{exporter="simple"}', 'domain', now);
  t.deepEqual([...stored.keys()].sort(), Object.keys(DOMAIN_WATTS).sort());
  // The ticks are what the files held; each scrape stored one tick's energy since the
  // first tick and the mean power over the second of ticks up to it, to the microunit served.
  const all = tap.ticks();
  assertBatchReadsRecord(t, await writer.record(), all, clock, sampler.nowMs());
  sampler.domains.forEach((domain, d) => {
    t.is(stored.get(domain.name), scrapes, `${domain.name}: one sample per successful scrape`);
    const e = all.energyUj[d];
    // No power before two ticks (NaN is not served).
    const watts = new Map(power.get(domain.name)!.stampsMs.map((ms, j) => [ms, power.get(domain.name)!.values[j]]));
    const { stampsMs, values } = energy.get(domain.name)!;
    values.forEach((joules, j) => {
      const w = watts.get(stampsMs[j]) ?? NaN;
      const i = e.findIndex((uj, i) => toMicro((uj - e[0]) / 1e6) === joules && Object.is(w, toMicro(windowPowerWatts(sliceTicks(all, i + 1), 1000)[d])));
      t.true(i >= 0, `${domain.name}: scrape ${j} stored ${joules} J and ${w} W, which no tick read`);
    });
  });
  const ticks = await prometheus.queryBy('wattmeter_sampler_ticks_total', 'exporter', now);
  t.true(ticks.get('simple')! >= 1500, 'the sampler ran at about 200 Hz');
  const rate = await prometheus.queryBy('wattmeter_sampler_rate_hertz', 'exporter', now);
  t.is(rate.get('simple'), 200);
});

/** The first n ticks of a batch (views). */
function sliceTicks(batch: Batch, n: number): Batch {
  return { domains: batch.domains, timestampsMs: batch.timestampsMs.subarray(0, n), energyUj: batch.energyUj.map((c) => c.subarray(0, n)), length: n };
}

test.serial('the exposition passes promtool check metrics', async (t) => {
  const { sampler } = await fakeMachine(t, 200);
  const exporter = await startSimpleExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => exporter.close());
  await sleep(300);
  const text = await (await fetch(exporter.url)).text();
  t.regex(text, /^wattmeter_energy_joules_total\{domain="psys",source="powercap",exporter="simple"\} \d/m);
  const check = await promtoolCheckMetrics(text);
  t.is(check.code, 0, check.output);
});

test.serial('OpenMetrics on request: the reference parser accepts it, with the same values as the text format', async (t) => {
  const { sampler } = await fakeMachine(t, 200);
  // Drained rarely, so that both scrapes below see one snapshot.
  const exporter = await startSimpleExporter({ sampler, host: '127.0.0.1', port: 0, drainIntervalMs: 2000 });
  t.teardown(() => exporter.close());
  await sleep(2500);
  const get = (accept: string) => fetch(exporter.url, { headers: { accept } });
  const om = await get('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
  t.is(om.headers.get('content-type'), OPENMETRICS_FORMAT);
  const families = await parseOpenMetrics(await om.text());
  // Rendering OpenMetrics must leave the text format's counters named as they are.
  const text = await (await get('text/plain')).text();
  t.regex(text, /^# TYPE wattmeter_energy_joules_total counter$/m);
  t.false(text.includes('# EOF'));

  const byName = new Map(families.map((f) => [f.name, f]));
  t.is(byName.get('wattmeter_energy_joules')?.type, 'counter');
  t.is(byName.get('wattmeter_power_watts')?.type, 'gauge');
  t.is(byName.get('wattmeter_sampler_ticks')?.type, 'counter');
  t.deepEqual(families.filter((f) => f.type === 'unknown').map((f) => f.name), []);
  // Every OpenMetrics sample is in the text format too, with the same value (labels sorted).
  const textValues = new Map(
    [...text.matchAll(/^(\w+)\{([^}]*)\} (\S+)$/gm)].map(([, name, labels, value]) => [`${name}{${labels.split(',').sort().join(',')}}`, Number(value)]),
  );
  let samples = 0;
  for (const f of families) {
    for (const [series, { values, timestampsMs }] of Object.entries(f.series)) {
      t.deepEqual(timestampsMs, [null], series);
      t.is(values[0], textValues.get(series) ?? NaN, series);
      samples++;
    }
  }
  t.is(samples, textValues.size);
  t.is((await get('text/plain;version=0.0.4')).headers.get('content-type'), TEXT_FORMAT);
});
