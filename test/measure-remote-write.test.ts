// remoteWriteHandler end to end: an EnergyMeter and measure() on a fake powercap tree
// push their segments into a real Prometheus (remote-write receiver on), which must then
// hold what the reports said, under the names and values promClientHandler gives.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { EnergyMeter, measure, promClientHandler, remoteWriteHandler, type EnergyReport, type RemoteWriteHandlerOptions } from '../lib/index.js';
import { Prometheus, fakeMachine } from '../fixtures/prometheus.js';

let prometheus: Prometheus;
test.before(async () => {
  prometheus = await Prometheus.start();
});
test.after.always(() => prometheus?.remove());

/** A handler pushing to the test's Prometheus as `job`, and the errors it reports. */
function handlerFor(job: string, options: Partial<RemoteWriteHandlerOptions> = {}) {
  const errors: string[] = [];
  const handler = remoteWriteHandler({ url: prometheus.writeUrl, pushIntervalMs: 200, job, instance: 'test', onError: (e) => errors.push(e.message), ...options });
  return { handler, errors };
}

/** The joules of each tag and domain, summed over the reports. */
function joulesByTagAndDomain(reports: readonly EnergyReport[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { tag, domains } of reports) {
    for (const [domain, d] of Object.entries(domains)) sums.set(`${tag}/${domain}`, (sums.get(`${tag}/${domain}`) ?? 0) + d.joules);
  }
  return sums;
}

function assertClose(t: { true: (ok: boolean, message: string) => void }, actual: number | undefined, expected: number, what: string) {
  t.true(actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: stored ${actual}, reported ${expected}`);
}

test.serial('Prometheus stores the joules the reports said, with the names and values of the prom-client handler', async (t) => {
  const { sampler } = await fakeMachine(t, 1000);
  const { handler, errors } = handlerFor('measured');
  const registry = new Registry();
  const handlers = [handler, promClientHandler({ registry })];

  const meter = await new EnergyMeter({ sampler, handlers }).start('load');
  await sleep(300);
  meter.record('parse');
  await sleep(200);
  meter.record('load');
  await sleep(300);
  const trace = await meter.stop();
  const { energy } = await measure(() => sleep(200), { sampler, tag: 'parse', handlers });
  await handler.close();

  const stats = handler.stats();
  t.log(stats);
  t.deepEqual(errors, []);
  t.like(stats, { failed: 0, dropped: 0, queued: 0 });
  t.true(stats.sent > 0);

  const reports = [...trace, energy];
  const want = joulesByTagAndDomain(reports);
  const stored = await prometheus.query('wattmeter_measured_energy_joules_total{job="measured"}');
  t.deepEqual(stored.map((s) => `${s.metric.tag}/${s.metric.domain}`).sort(), [...want.keys()].sort());
  for (const { metric, value } of stored) assertClose(t, Number(value[1]), want.get(`${metric.tag}/${metric.domain}`)!, `${metric.tag} ${metric.domain}`);
  t.deepEqual(Object.keys(stored[0].metric).sort(), ['__name__', 'domain', 'instance', 'job', 'source', 'tag']);

  // Every metric and value prom-client has, Prometheus has under the same name and labels.
  for (const { name, values } of await registry.getMetricsAsJSON()) {
    for (const { labels, value } of values) {
      const selector = Object.entries({ ...labels, job: 'measured' }).map(([k, v]) => `${k}="${v}"`).join(',');
      const [sample] = await prometheus.query(`${name}{${selector}}`);
      assertClose(t, sample && Number(sample.value[1]), value, `${name}{${selector}}`);
    }
  }

  // Stamped with the segment's end: the latest "load" is the meter's last segment.
  const [stamp] = await prometheus.query('timestamp(wattmeter_measured_segments_total{job="measured",tag="load"})');
  t.is(Number(stamp.value[1]), Math.round(trace[2].endMs) / 1000);
});

test.serial('segments of one tag ending in the same millisecond or out of order are all stored, none rejected', async (t) => {
  const { sampler } = await fakeMachine(t, 1000);
  const { handler, errors } = handlerFor('reordered');
  const { energy } = await measure(() => sleep(100), { sampler, tag: 'x' });
  // What concurrent measure() calls of one tag can hand a shared handler.
  handler(energy);
  handler({ ...energy, endMs: energy.endMs + 0.2 });
  handler({ ...energy, endMs: energy.endMs - 50 });
  await handler.close();
  t.deepEqual(errors, []);
  t.like(handler.stats(), { failed: 0, dropped: 0 });
  const [segments] = await prometheus.query('wattmeter_measured_segments_total{job="reordered"}');
  t.is(Number(segments.value[1]), 3);
  const joules = await prometheus.queryBy('wattmeter_measured_energy_joules_total{job="reordered"}', 'domain');
  for (const [domain, d] of Object.entries(energy.domains)) assertClose(t, joules.get(domain), 3 * d.joules, domain);
});

test.serial('a report after close() is dropped, counted and said why', async (t) => {
  const { sampler } = await fakeMachine(t, 1000);
  const { handler, errors } = handlerFor('late');
  await handler.close();
  const { energy } = await measure(() => sleep(50), { sampler, tag: 'late', handlers: [handler] });
  t.true(handler.stats().dropped > 0);
  t.is(errors.length, 1);
  t.regex(errors[0], /segment "late" came after close\(\), so its \d+ samples are dropped; close the handler only once/);
  t.is(energy.tag, 'late', 'the measurement itself is unaffected');
});

test('bad options say which option is wrong and what it takes', (t) => {
  const url = 'http://127.0.0.1:9/api/v1/write';
  t.throws(() => remoteWriteHandler({ url: 'localhost:9090/api/v1/write' }), { message: /URL must be an http:\/\/ or https:\/\/ URL; got "localhost:9090/ });
  t.throws(() => remoteWriteHandler({ url, prefix: 'my app' }), { message: /prefix must start with a letter.*; got "my app"/ });
  t.throws(() => remoteWriteHandler({ url, maxBackoffMs: -5 }), { message: /maxBackoffMs must be a number of milliseconds above 0.*; got -5/ });
  t.throws(() => remoteWriteHandler({ url, queueCapacitySamples: 0.5 }), { message: /queueCapacitySamples must be a whole number of samples, at least 1; got 0.5/ });
  t.throws(() => remoteWriteHandler({ url, job: '' }), { message: /the job label must not be empty/ });
});
