// The multirate exporter scraped by real Prometheus servers: every tick stored, with its
// own timestamp, whatever happens to a scrape or to a server; in OpenMetrics, which
// Prometheus asks for, and in the text format 0.0.4 to other clients.
import test from 'ava';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { multirateOptionsFromEnv, startMultirateExporter } from '../lib/index.js';
import { OPENMETRICS_FORMAT, TEXT_FORMAT } from '../lib/prometheus/text.js';
import { DOMAIN_WATTS, Prometheus, assertStoredReadsRecord, fakeMachine, parseOpenMetrics, promtoolCheckMetrics } from '../fixtures/prometheus.js';
import { tapTicks } from '../fixtures/truth.js';

const JOB = 'multirate';
/** The Accept header of Prometheus 2.42's scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

test.serial('OpenMetrics at 1 kHz: Prometheus asks for it and stores every sample of it; the reference parser accepts it', async (t) => {
  const { sampler } = await fakeMachine(t, 1000);
  // A window longer than the test: the last scrape shows every sample ever served.
  const exporter = await startMultirateExporter({ sampler, host: '127.0.0.1', port: 0, windowMs: 60_000 });
  t.teardown(() => exporter.close());
  const prometheus = await Prometheus.start({ targets: [{ job: JOB, url: exporter.url }] });
  t.teardown(() => prometheus.remove());
  await prometheus.scraped(JOB);
  await sleep(3000);
  sampler.stop();
  await prometheus.scraped(JOB, Date.now() + 200); // after the last ticks were drained

  const response = await fetch(exporter.url, { headers: { accept: PROMETHEUS_ACCEPT } });
  t.is(response.headers.get('content-type'), OPENMETRICS_FORMAT);
  const body = await response.text();
  t.true(body.endsWith('\n# EOF\n'));
  const families = new Map((await parseOpenMetrics(body)).map((f) => [f.name, f]));
  t.deepEqual(
    [...families.values()].filter((f) => f.type === 'unknown').map((f) => f.name),
    [],
    'every sample under its family (a counter sample without _total would start an unknown one)',
  );

  // Every sample served is stored: per series, as many as the window holds, at 1 kHz.
  const ticks = sampler.stats().ticks;
  for (const [name, metric] of [['wattmeter_energy_joules', 'wattmeter_energy_joules_total'], ['wattmeter_power_watts', 'wattmeter_power_watts']]) {
    const served = families.get(name)!.series;
    t.is(Object.keys(served).length, Object.keys(DOMAIN_WATTS).length, name);
    const stored = await prometheus.queryBy(`count_over_time(${metric}{exporter="${JOB}"}[1h])`, 'domain');
    for (const [series, { timestampsMs }] of Object.entries(served)) {
      const domain = /domain="([^"]+)"/.exec(series)![1];
      t.true(timestampsMs.length >= 0.5 * ticks, `${series}: ${timestampsMs.length} samples of ${ticks} ticks`);
      t.is(stored.get(domain), timestampsMs.length, `${series}: all ${timestampsMs.length} stored`);
    }
  }
  t.is(await prometheus.ownMetric('prometheus_target_scrapes_sample_duplicate_timestamp_total'), 0);

  // Prometheus's scrapes were OpenMetrics ones: none in the text format, ours the last one.
  const scrapes = families.get('wattmeter_multirate_scrapes')!;
  t.is(scrapes.type, 'counter');
  const count = (format: string) => scrapes.series[`wattmeter_multirate_scrapes_total{exporter="multirate",format="${format}"}`].values[0];
  t.is(count('text'), 0);
  t.true(count('openmetrics') >= 3, `${count('openmetrics')} OpenMetrics scrapes`);
  t.log({ ticks, samplesPerSeries: Object.values(families.get('wattmeter_power_watts')!.series).map((s) => s.timestampsMs.length), scrapes: count('openmetrics') });
  for (const name of ['wattmeter_sampler_ticks', 'wattmeter_multirate_samples_served', 'wattmeter_multirate_samples_expired']) {
    t.is(families.get(name)?.type, 'counter', name);
    t.deepEqual(Object.values(families.get(name)!.series)[0].timestampsMs, [null], `${name}: untimestamped`);
  }
  t.is(families.get('wattmeter_sampler_rate_hertz')?.series['wattmeter_sampler_rate_hertz{exporter="multirate"}'].values[0], 1000);
});

test.serial('clients that do not ask for OpenMetrics get the text format 0.0.4, which promtool accepts', async (t) => {
  const { sampler } = await fakeMachine(t, 200);
  const exporter = await startMultirateExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => exporter.close());
  await sleep(500);
  for (const accept of ['text/plain;version=0.0.4', 'text/plain', '*/*']) {
    const response = await fetch(exporter.url, { headers: { accept } });
    t.is(response.headers.get('content-type'), TEXT_FORMAT, accept);
    const text = await response.text();
    t.regex(text, /^# TYPE wattmeter_energy_joules_total counter$/m);
    t.regex(text, /^wattmeter_energy_joules_total\{domain="psys",exporter="multirate",source="powercap"\} \d+\.\d{6} \d{13}$/m);
    t.false(text.includes('# EOF'));
    const check = await promtoolCheckMetrics(text);
    t.is(check.code, 0, check.output);
  }
  // Without an Accept header (the cut-off test below sends none): the text format too.
  t.regex(await partialScrape(exporter.url, 4096), /^wattmeter_energy_joules_total\{[^}]*\} \S+ \d{13}$/m);
});

test.serial('two Prometheus servers each store every tick, one of them across its own restart', async (t) => {
  const machine = await fakeMachine(t, 200);
  const { sampler } = machine;
  const exporter = await startMultirateExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => exporter.close());
  const targets = [{ job: JOB, url: exporter.url }];
  const [steady, restarted] = await Promise.all([Prometheus.start({ targets }), Prometheus.start({ targets })]);
  t.teardown(() => Promise.all([steady.remove(), restarted.remove()]));
  await Promise.all([steady.scraped(JOB), restarted.scraped(JOB)]);

  await sleep(2000);
  await restarted.stop();
  const outageMs = Date.now();
  await sleep(5000);
  await restarted.start();
  sampler.stop();
  const stoppedMs = Date.now();
  const ticks = sampler.stats().ticks;
  // Both scrape again after the last ticks were drained: the restarted one only after
  // Prometheus applies its targets (up to 5 s), from samples still in the 30 s window.
  await Promise.all([steady.scraped(JOB, stoppedMs + 200), restarted.scraped(JOB, stoppedMs + 200)]);

  const counts = await Promise.all([steady, restarted].map((p) => p.queryBy(`count_over_time(wattmeter_energy_joules_total{exporter="${JOB}"}[1h])`, 'domain')));
  const sums = await Promise.all([steady, restarted].map((p) => p.queryBy(`sum_over_time(wattmeter_energy_joules_total{exporter="${JOB}"}[1h])`, 'domain')));
  t.deepEqual(counts[0], counts[1], 'both servers hold the same samples');
  t.deepEqual(sums[0], sums[1], 'with the same values');
  t.deepEqual([...counts[0].keys()].sort(), Object.keys(DOMAIN_WATTS).sort());
  for (const [domain, stored] of counts[0]) t.true(stored >= 0.95 * ticks, `${domain}: ${stored} samples stored of ${ticks} ticks`);

  // Every stored value, the outage's as the restarted server got them afterwards too, is
  // what the files held when the sampler read them.
  for (const server of [steady, restarted]) {
    t.true((await server.samples(`wattmeter_energy_joules_total{exporter="${JOB}"}`, 'domain', outageMs + 3000)).get('psys')!.stampsMs.at(-1)! > outageMs + 2000, 'samples from within the outage');
    await assertStoredReadsRecord(t, server, `wattmeter_energy_joules_total{exporter="${JOB}"}`, machine);
    // What serving the window again costs: the samples a server has come again and are
    // dropped as out of order; never as duplicates, since a served value never changes.
    t.is(await server.ownMetric('prometheus_target_scrapes_sample_duplicate_timestamp_total'), 0);
    t.true((await server.ownMetric('prometheus_target_scrapes_sample_out_of_order_total')) > 0);
  }
});

/** Timestamped lines, by series and timestamp. */
function lines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of text.matchAll(/^(\w+\{[^}]*\}) (\S+) (\d+)$/gm)) out.set(`${match[1]} ${match[3]}`, match[2]);
  return out;
}

/** The start of a scrape's body, up to `bytes`, then the client hangs up. */
async function partialScrape(url: string, bytes: number): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.write(`GET /metrics HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  let received = '';
  for await (const chunk of socket) {
    received += chunk;
    if (received.length >= bytes) break; // leaving the loop destroys the socket
  }
  // Only whole lines: the hang-up may fall anywhere, even inside a timestamp.
  const body = received.slice(received.indexOf('\r\n\r\n') + 4);
  return body.slice(0, body.lastIndexOf('\n') + 1);
}

test.serial('a scrape cut off mid-response loses nothing: the next one serves the same samples, unchanged', async (t) => {
  // 2 kHz: two ticks per millisecond, folded into one line per series per ms.
  const { sampler } = await fakeMachine(t, 2000);
  const exporter = await startMultirateExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => exporter.close());
  await sleep(1500);
  const cut = lines(await partialScrape(exporter.url, 256 << 10));
  const first = await (await fetch(exporter.url)).text();
  await sleep(500);
  const second = await (await fetch(exporter.url)).text();

  t.true(cut.size > 1000, `${cut.size} lines read before hanging up`);
  const again = lines(second);
  for (const [key, value] of [...cut, ...lines(first)]) {
    if (again.get(key) !== value) return t.fail(`${key}: ${value} served again as ${again.get(key)}`);
  }
  t.true(again.size > lines(first).size, 'and new samples after them');

  // At most one line per series per millisecond, in time order.
  const last = new Map<string, number>();
  for (const match of second.matchAll(/^(\w+\{[^}]*\}) \S+ (\d+)$/gm)) {
    const ms = Number(match[2]);
    t.true(ms > (last.get(match[1]) ?? 0), `${match[1]} at ${ms}`);
    last.set(match[1], ms);
  }
  const perSeries = again.size / (2 * Object.keys(DOMAIN_WATTS).length);
  t.true(perSeries > 1500, `${perSeries} samples per series in 2 s: one per ms`);

  const served = /^wattmeter_multirate_samples_served_total\{exporter="multirate"\} (\d+)$/m.exec(second);
  t.true(Number(served?.[1]) >= lines(first).size + again.size);
  const check = await promtoolCheckMetrics(second);
  t.is(check.code, 0, check.output);
});

test.serial('scrapes further apart than the window: what left it unserved is counted as expired, and nothing else', async (t) => {
  const { sampler } = await fakeMachine(t, 200);
  const tap = tapTicks(sampler);
  t.teardown(tap.stop);
  const options = multirateOptionsFromEnv({ WATTMETER_HOST: '127.0.0.1', WATTMETER_PORT: '0', WATTMETER_MULTIRATE_WINDOW_MS: '1000' });
  t.is(options.windowMs, 1000);
  const exporter = await startMultirateExporter({ sampler, ...options });
  t.teardown(() => exporter.close());
  const servedMs = new Set<number>();
  let expired = NaN;
  const scrape = async () => {
    const text = await (await fetch(exporter.url)).text();
    for (const m of text.matchAll(/^wattmeter_energy_joules_total\{domain="package-0",[^}]*\} \S+ (\d+)$/gm)) servedMs.add(Number(m[1]));
    expired = Number(/^wattmeter_multirate_samples_expired_total\{exporter="multirate"\} (\d+)$/m.exec(text)?.[1]);
  };
  for (let i = 0; i < 5; i++) {
    await sleep(300);
    await scrape();
  }
  t.is(expired, 0, 'scrapes 300 ms apart lose nothing from a 1 s window');
  await sleep(3000); // about 2 s of samples leave the window unserved
  await scrape();
  sampler.stop();
  await sleep(300); // the last ticks drained
  await scrape();

  // Every millisecond with a tick after the first (the zero of the counters) was served or
  // counted as expired, two samples (energy and power) per domain each; all but the last,
  // held back until a later tick proves it complete. A late tick can share its ms with the
  // next one: the ticks' own stamps say how many milliseconds there were.
  const { ticks } = sampler.stats();
  const all = tap.ticks();
  const milliseconds = new Set(Array.from(all.timestampsMs.subarray(1), Math.floor)).size;
  const expiredTicks = expired / (2 * sampler.domains.length);
  t.log({ ticks, milliseconds, served: servedMs.size, expiredTicks });
  t.is(all.length, ticks);
  t.true(expiredTicks > 300 && expiredTicks < 500, `${expiredTicks} ticks expired in a 2 s hole at 200 Hz`);
  t.is(servedMs.size + expiredTicks, milliseconds - 1, `${servedMs.size} served + ${expiredTicks} expired, of ${milliseconds} ms with ticks`);
});
