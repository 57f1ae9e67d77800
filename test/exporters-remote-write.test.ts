// The remote-write exporter: every sample into real receivers (Prometheus 2.42 and
// VictoriaMetrics) across an outage; the wire format, retries, the bounded queue and the
// bounded close against a tiny scripted receiver.
import test, { type ExecutionContext } from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRemoteWriteExporter, type RemoteWriteOptions } from '../lib/index.js';
import type { TimeSeries } from '../lib/prometheus/prompb.js';
import { scriptedReceiver, type Received } from '../fixtures/receiver.js';
import { DOMAIN_WATTS, Prometheus, VictoriaMetrics, assertStoredReadsRecord, fakeMachine, type Store } from '../fixtures/prometheus.js';

const receivers: [string, () => Promise<Store>][] = [
  ['Prometheus', () => Prometheus.start()],
  ['VictoriaMetrics', () => VictoriaMetrics.start()],
];

for (const [name, start] of receivers) {
  test.serial(`every sample reaches ${name}, across 5 s with the receiver down`, async (t) => {
    const machine = await fakeMachine(t, 200);
    const { sampler } = machine;
    const store = await start();
    t.teardown(() => store.remove());
    const exporter = startRemoteWriteExporter({ sampler, url: store.writeUrl, pushIntervalMs: 500, job: 'e2e', instance: name });
    t.teardown(() => exporter.close());

    await sleep(3000);
    await store.stop();
    const outageMs = Date.now();
    await sleep(5500);
    await store.start();
    await sleep(2000);
    sampler.stop();
    const { ticks } = sampler.stats();
    await exporter.close();

    const stats = exporter.stats();
    t.log(name, { ticks, ...stats });
    t.is(stats.dropped, 0);
    t.is(stats.queued, 0);
    t.true(stats.retried > 0, 'the outage caused retries');
    // Every tick but the first (the zero of the counters), less ticks that a late wake-up
    // put in the same millisecond as the next (folded). VictoriaMetrics makes what it
    // received searchable within a moment.
    const expr = `count_over_time(wattmeter_energy_joules_total{exporter="remote_write",job="e2e",instance="${name}"}[1h])`;
    let counts = await store.queryBy(expr, 'domain');
    for (let tries = 0; tries < 20 && [...counts.values()].some((n) => n < 0.99 * ticks); tries++) {
      await sleep(250);
      counts = await store.queryBy(expr, 'domain');
    }
    t.deepEqual([...counts.keys()].sort(), Object.keys(DOMAIN_WATTS).sort());
    for (const [domain, stored] of counts) t.true(stored >= 0.99 * ticks && stored < ticks, `${domain}: ${stored} samples stored of ${ticks} ticks`);
    // Every stored value, those sent after the outage included, is what the files held
    // when the sampler read them.
    const selector = `wattmeter_energy_joules_total{exporter="remote_write",job="e2e",instance="${name}"}`;
    t.true((await store.samples(selector, 'domain', outageMs + 3000)).get('psys')!.stampsMs.at(-1)! > outageMs + 2000, 'samples from within the outage');
    await assertStoredReadsRecord(t, store, selector, machine);
    const sent = await store.queryBy('wattmeter_remote_write_samples_sent_total', 'instance');
    t.true(sent.get(name)! > 0, 'self-monitoring is pushed too');
  });
}

async function pushFor(t: ExecutionContext, ms: number, options: Omit<RemoteWriteOptions, 'sampler'>) {
  const { sampler } = await fakeMachine(t, 200);
  const errors: string[] = [];
  const exporter = startRemoteWriteExporter({ sampler, pushIntervalMs: 200, minBackoffMs: 20, onError: (e) => errors.push(e.message), ...options });
  await sleep(ms);
  await exporter.close();
  return { stats: exporter.stats(), errors };
}

test.serial('requests follow remote write 1.0: headers, snappy block, sorted labels, time order', async (t) => {
  const receiver = await scriptedReceiver(t);
  await pushFor(t, 1500, { url: receiver.url, auth: { bearerToken: 's3cret' }, headers: { 'X-Scope-OrgID': 'tenant-1' }, job: 'j', instance: 'i' });
  t.true(receiver.received.length >= 3);
  const lastTimestamp = new Map<string, number>();
  for (const { url, headers, body, timeseries } of receiver.received) {
    t.is(url, '/api/v1/write');
    t.is(headers['content-encoding'], 'snappy');
    t.is(headers['content-type'], 'application/x-protobuf');
    t.is(headers['x-prometheus-remote-write-version'], '0.1.0');
    t.regex(headers['user-agent']!, /^wattmeter\/\d+\.\d+\.\d+/);
    t.is(headers.authorization, 'Bearer s3cret');
    t.is(headers['x-scope-orgid'], 'tenant-1');
    t.false(body.subarray(0, 10).equals(Buffer.from('ff060000734e61507059', 'hex')), 'block format, not framed');
    const keys = new Set<string>();
    for (const { labels, samples } of timeseries) {
      const names = labels.map((l) => l.name);
      t.deepEqual(names, [...names].sort(), 'labels sorted by name');
      t.is(new Set(names).size, names.length, 'no label twice');
      t.true(labels.every((l) => l.name !== '' && l.value !== ''));
      t.true(names.includes('__name__') && names.includes('job') && names.includes('instance') && names.includes('exporter'));
      const key = JSON.stringify(labels);
      t.false(keys.has(key), 'a series once per request');
      keys.add(key);
      for (const { timestamp } of samples) {
        t.true(timestamp > (lastTimestamp.get(key) ?? 0), 'samples of a series in time order, across requests too');
        lastTimestamp.set(key, timestamp);
      }
    }
  }
  t.true([...lastTimestamp.keys()].some((k) => k.includes('"wattmeter_power_watts"') && k.includes('"psys"')));
});

test.serial('a 503 and a 429 are retried with the same request; a 400 is not', async (t) => {
  const receiver = await scriptedReceiver(t, [503, 429, 204, 400]);
  const { stats, errors } = await pushFor(t, 2000, { url: receiver.url, auth: { username: 'u', password: 'p' } });
  const [first, second, third, rejected, next] = receiver.received;
  t.is(first.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  t.true(second.body.equals(first.body) && third.body.equals(first.body), 'retried as it was');
  t.false(next.body.equals(rejected.body), 'the rejected request is not sent again');
  t.is(stats.retried, 2 * first.samples);
  t.is(stats.failed, rejected.samples);
  t.is(stats.sent, receiver.received.filter((r) => r.status === 204).reduce((n, r) => n + r.samples, 0));
  t.like(stats.requests, { 503: 1, 429: 1, 400: 1 });
  t.is(errors.length, 3);
  t.regex(errors[2], /: 400 scripted 400; \d+ samples rejected, not retried/);
});

test.serial('a 429 or 503 with Retry-After (seconds or an HTTP date) is retried no sooner than it asks, losing nothing', async (t) => {
  // An HTTP date has whole seconds: 2 s ahead is 1 to 2 s ahead once truncated.
  const receiver = await scriptedReceiver(t, [
    { status: 429, headers: () => ({ 'Retry-After': '1' }) },
    { status: 503, headers: () => ({ 'Retry-After': new Date(Date.now() + 2000).toUTCString() }) },
  ]);
  // minBackoffMs 20: without Retry-After the retries would come within ~50 ms.
  const { stats, errors } = await pushFor(t, 4000, { url: receiver.url });
  const [limited, unavailable, accepted] = receiver.received;
  const waits = [unavailable.atMs - limited.atMs, accepted.atMs - unavailable.atMs];
  t.log('waits (ms):', waits);
  t.true(waits[0] >= 1000 && waits[0] < 2000, `retried ${waits[0]} ms after Retry-After: 1`);
  t.true(waits[1] >= 900 && waits[1] < 3000, `retried ${waits[1]} ms after Retry-After: 2 s ahead`);
  t.true(unavailable.body.equals(limited.body) && accepted.body.equals(limited.body), 'the same request, retried');
  t.is(stats.retried, 2 * limited.samples);
  t.is(stats.dropped, 0);
  t.is(stats.failed, 0);
  t.is(stats.queued, 0);
  t.is(stats.sent, receiver.received.filter((r) => r.status === 204).reduce((n, r) => n + r.samples, 0));
  t.regex(errors[0], /: 429 scripted 429; will retry \d+ samples in 1\.0 s \(Retry-After: 1\)$/);
});

test.serial('a full queue drops its oldest samples, counted, and delivers the newest', async (t) => {
  // Down for the first 2 s, by the clock rather than by attempts (the jittered backoff makes
  // attempts last 0.75 to 1.5 s), with room for about 0.5 s of samples (10 series at 200 Hz).
  let upAtMs = Infinity;
  const receiver = await scriptedReceiver(t, () => (Date.now() < upAtMs ? 503 : 204));
  const { sampler } = await fakeMachine(t, 200);
  const startedMs = Date.now();
  upAtMs = startedMs + 2000;
  const exporter = startRemoteWriteExporter({ sampler, url: receiver.url, pushIntervalMs: 100, minBackoffMs: 20, maxBackoffMs: 200, queueCapacitySamples: 1000 });
  await sleep(3000);
  sampler.stop();
  const lastTickMs = Date.now();
  await exporter.close();
  const stats = exporter.stats();
  t.log(stats);
  t.true(stats.dropped > 1000, `${stats.dropped} dropped`);
  t.is(stats.failed, 0);
  t.is(stats.queued, 0);
  const delivered = receiver.received.filter((r) => r.status === 204);
  t.is(stats.sent, delivered.reduce((n, r) => n + r.samples, 0));
  // The request in flight when the queue filled is retried as it was; the oldest samples
  // waiting behind it are the ones dropped, which leaves a hole of about 1.5 s in a series.
  const isPackage = (s: TimeSeries) => s.labels.some((l) => l.value === 'wattmeter_energy_joules_total') && s.labels.some((l) => l.value === 'package-0');
  const times = delivered.flatMap((r) => r.timeseries.filter(isPackage).flatMap((s) => s.samples.map((x) => Number(x.timestamp))));
  const hole = Math.max(...times.slice(1).map((ms, i) => ms - times[i]));
  t.true(hole > 1000, `the largest gap between delivered samples is ${hole} ms`);
  t.true(Math.max(...times) > lastTickMs - 300, 'the newest samples arrived');
});

test.serial('close() gives up within closeTimeoutMs on a receiver that never answers, counting what it drops', async (t) => {
  const receiver = await scriptedReceiver(t, Array(100).fill(0));
  const { sampler } = await fakeMachine(t, 200);
  const exporter = startRemoteWriteExporter({ sampler, url: receiver.url, pushIntervalMs: 100, closeTimeoutMs: 500 });
  await sleep(500);
  const started = Date.now();
  await exporter.close();
  const tookMs = Date.now() - started;
  t.true(tookMs >= 450 && tookMs < 1500, `close took ${tookMs} ms`);
  const stats = exporter.stats();
  t.is(stats.sent, 0);
  t.is(stats.queued, 0);
  t.true(stats.dropped >= 400, `${stats.dropped} dropped`);
});

test.serial('a push interval longer than the drains batches them: the sampler is still drained every second', async (t) => {
  const receiver = await scriptedReceiver(t);
  const { sampler } = await fakeMachine(t, 200);
  const exporter = startRemoteWriteExporter({ sampler, url: receiver.url, pushIntervalMs: 3000 });
  await sleep(4600);
  const before = receiver.received.length;
  await exporter.close();
  t.is(before, 2, 'the first drain at once, then the next ones together');
  const samples = (r: Received) => r.timeseries.find((s) => s.labels.some((l) => l.value === 'psys') && s.labels.some((l) => l.value === 'wattmeter_energy_joules_total'))!.samples.length;
  t.true(samples(receiver.received[1]) > 1.5 * 200, `${samples(receiver.received[1])} samples of a series in the second request`);
  t.is(sampler.stats().dropped, 0);
});

// A self-signed certificate for 127.0.0.1, valid 2000-2100: a test fixture, not a secret.
const TEST_TLS = {
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgS8/3SJzmSMm6WyU7
d51BVHN3k97hH73d/PfbO9SGzCShRANCAASUBNg6VtNsCNSrbSDHrCDm9PqFXB4y
E/Uc2jN9EVaWHSwLwH0o4rLl50NyUh7OhWYxBws6ipUfySWGnYZ+GdKq
-----END PRIVATE KEY-----`,
  cert: `-----BEGIN CERTIFICATE-----
MIIBSTCB8aADAgECAgEBMAoGCCqGSM49BAMCMBQxEjAQBgNVBAMMCTEyNy4wLjAu
MTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFDESMBAGA1UEAwwJ
MTI3LjAuMC4xMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElATYOlbTbAjUq20g
x6wg5vT6hVweMhP1HNozfRFWlh0sC8B9KOKy5edDclIezoVmMQcLOoqVH8klhp2G
fhnSqqMyMDAwDwYDVR0RBAgwBocEfwAAATAdBgNVHQ4EFgQUh5TTKHcnHgwxh+pB
RX4hrerjhyMwCgYIKoZIzj0EAwIDRwAwRAIgc6mJfmiWMR9DyDo4Sl1fQvlGN3fV
nHzAHmCYSecFuJICIESobgsbrNB3ybzCsX47mFJPPwWvk+XBZjD60PeqX+Ra
-----END CERTIFICATE-----`,
};

test.serial('https: the receiver certificate is checked, against a private CA when one is given', async (t) => {
  const receiver = await scriptedReceiver(t, [], { tls: TEST_TLS });
  const trusted = await pushFor(t, 800, { url: receiver.url, tls: { ca: TEST_TLS.cert } });
  t.true(trusted.stats.sent > 0);
  t.deepEqual(trusted.errors, []);
  const before = receiver.received.length;
  const untrusted = await pushFor(t, 800, { url: receiver.url, closeTimeoutMs: 200 });
  t.is(untrusted.stats.sent, 0);
  t.is(receiver.received.length, before);
  t.regex(untrusted.errors[0], /: error self[- ]signed certificate; will retry/);
});
