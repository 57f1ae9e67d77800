// Attributed energy through the three exporters into a real Prometheus: two real cgroups,
// made for the test, each holding a busy child process; the fake powercap package at a
// known power. Per-cgroup series are stored (at full resolution by multirate and remote
// write), and with the unattributed rest their rate() sums to the package's.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSampler, startMultirateExporter, startRemoteWriteExporter, startSimpleExporter } from '../lib/index.js';
import { OPENMETRICS_FORMAT } from '../lib/prometheus/text.js';
import { Prometheus, fakeTree, promtoolCheckMetrics } from '../fixtures/prometheus.js';
import { busyChild, testCgroups } from '../fixtures/busy.js';

const EXPORTERS = ['simple', 'multirate', 'remote_write'];

test.serial('per-cgroup series reach Prometheus from every exporter, and their rate() sums to the package', async (t) => {
  t.timeout(90_000);
  const { root } = await fakeTree(t);
  const cgroups = testCgroups(t, ['busy', 'light']);
  const busy = await busyChild(t, 0.4);
  const light = await busyChild(t, 0.1);
  cgroups.move(busy.pid, 'busy');
  cgroups.move(light.pid, 'light');

  const sampler = openSampler({ sysfsRoot: root, rateHz: 500, cgroups: true, cgroupRoot: cgroups.root, processRateHz: 10, pids: [busy.pid, light.pid] });
  t.teardown(() => sampler.close());
  const simple = await startSimpleExporter({ sampler, host: '127.0.0.1', port: 0 });
  t.teardown(() => simple.close());
  // A 5 s window still outlasts four failed scrapes, and keeps each scrape a sixth of the
  // default's size: on a busy machine, Prometheus parsing a 30 s window every second can
  // run past its 1 s scrape timeout again and again, and store nothing.
  const multirate = await startMultirateExporter({ sampler, host: '127.0.0.1', port: 0, windowMs: 5000 });
  t.teardown(() => multirate.close());
  const prometheus = await Prometheus.start({
    targets: [
      { job: 'simple', url: simple.url },
      { job: 'multirate', url: multirate.url },
    ],
    scrapeIntervalMs: 1000,
  });
  t.teardown(() => prometheus.remove());
  const remoteWrite = startRemoteWriteExporter({ sampler, url: prometheus.writeUrl, pushIntervalMs: 500, job: 'remote', instance: 'remote' });
  t.teardown(() => remoteWrite.close());

  // What Prometheus is served passes promtool, in both formats.
  await sleep(1500);
  for (const url of [simple.url, multirate.url]) {
    for (const accept of [OPENMETRICS_FORMAT, 'text/plain']) {
      const text = await (await fetch(url, { headers: { accept } })).text();
      t.regex(text, /^wattmeter_cgroup_energy_joules_total\{.*cgroup="\/busy".*\} /m, url);
      if (accept === 'text/plain') {
        const check = await promtoolCheckMetrics(text);
        t.is(check.code, 0, check.output);
      }
    }
  }

  await prometheus.scraped('multirate');
  await sleep(12_000);
  const now = Date.now();

  // Every exporter's per-cgroup series are stored, labelled with the cgroup and its name.
  const cgroupSeries = await prometheus.query('wattmeter_cgroup_energy_joules_total{domain="package-0"}', now);
  for (const exporter of EXPORTERS) {
    const names = cgroupSeries.filter((s) => s.metric.exporter === exporter).map((s) => `${s.metric.cgroup} ${s.metric.name}`);
    t.deepEqual(names.sort(), ['/busy busy', '/light light'], exporter);
  }

  // Full resolution: the busy cgroup's interval ends (100 Hz) as samples, against one a scrape.
  const count = await prometheus.queryBy('count_over_time(wattmeter_cgroup_energy_joules_total{domain="package-0",cgroup="/busy"}[10s])', 'exporter', now);
  t.log('samples of /busy in 10 s', Object.fromEntries(count));
  const health = await prometheus.queryBy('sum_over_time(up[10s])', 'job', now);
  const took = await prometheus.queryBy('max_over_time(scrape_duration_seconds[10s])', 'job', now);
  t.log('scrapes up in 10 s', Object.fromEntries(health), 'longest scrape (s)', Object.fromEntries(took));
  t.true(count.get('simple')! <= 11);
  t.true(count.get('multirate')! >= 10 * count.get('simple')!);
  t.true(count.get('remote_write')! >= 10 * count.get('simple')!);

  // Per exporter: the cgroups' rates plus the unattributed rest's are the package's. Each is
  // an extrapolation over the same 10 s of a straight-ish line, so they agree to ~1 %, taken
  // where every series has arrived: remote write sends series in separate requests, so at
  // `now` the package's newest samples may be stored and the cgroups' not yet.
  for (const exporter of EXPORTERS) {
    const sel = `domain="package-0",exporter="${exporter}"`;
    const [cgroups, rest, package0Energy] = [
      `wattmeter_cgroup_energy_joules_total{${sel}}`,
      `wattmeter_unattributed_energy_joules_total{${sel},view="cgroup"}`,
      `wattmeter_energy_joules_total{${sel}}`,
    ];
    const [newest] = await prometheus.query(`min(timestamp(${cgroups}) or timestamp(${rest}) or timestamp(${package0Energy}))`, now);
    const at = Number(newest.value[1]) * 1000;
    const [parts] = await prometheus.query(`sum(rate(${cgroups}[10s])) + sum(rate(${rest}[10s]))`, at);
    const [whole] = await prometheus.query(`rate(${package0Energy}[10s])`, at);
    const [sum, package0] = [Number(parts.value[1]), Number(whole.value[1])];
    t.log(exporter, { attributedPlusRestWatts: sum, packageWatts: package0 });
    t.true(Math.abs(sum - package0) < 0.02 * package0, `${exporter}: ${sum} W attributed + rest against ${package0} W`);
    // The busy cgroup was attributed more than the light one.
    const watts = await prometheus.queryBy(`rate(wattmeter_cgroup_energy_joules_total{${sel}}[10s])`, 'cgroup', now);
    t.true(watts.get('/busy')! > watts.get('/light')!, JSON.stringify(Object.fromEntries(watts)));
  }

  // Processes by name: both children are "node", one series per name unless pids are asked for.
  const processes = await prometheus.query('wattmeter_process_energy_joules_total{domain="package-0",exporter="multirate"}', now);
  t.deepEqual(
    processes.map((s) => s.metric.process),
    ['node'],
  );
  t.false('pid' in processes[0].metric);
});
