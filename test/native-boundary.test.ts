// The addon and the TypeScript layer each declare the keys that cross the boundary once
// (native/addon.cc's tables, lib/options.ts and lib/stats.ts): they must agree.
import test from 'ava';
import { addon } from '../lib/native.js';
import { openSampler } from '../lib/sampler.js';
import { resolveSamplerOptions, resolveSourceOptions } from '../lib/options.js';
import { NATIVE_STATS_KEYS, STATS_FIELDS } from '../lib/stats.js';
import { SAMPLER_METRICS } from '../lib/exporters/metrics.js';
import { fakePowercap, fiveZones } from '../fixtures/fake-rapl.js';
import { testRoot } from '../fixtures/native.js';

test('the addon reads exactly the option keys the TypeScript layer sends', (t) => {
  const root = testRoot(t);
  const sent = Object.keys(resolveSamplerOptions({ sysfsRoot: root }));
  t.deepEqual([...addon().OPTION_KEYS].sort(), [...sent].sort());
  const discovery = Object.keys(resolveSourceOptions({ sysfsRoot: root }));
  t.deepEqual(
    discovery.filter((key) => !addon().OPTION_KEYS.includes(key)),
    [],
    'discover and readOnce get a subset of the same keys',
  );
});

test("a native stats() object has exactly the keys of lib/stats.ts, and Sampler.stats() its own", (t) => {
  const root = testRoot(t);
  fakePowercap(root, fiveZones());
  t.deepEqual(addon().STATS_KEYS, [...NATIVE_STATS_KEYS]);
  const native = new (addon().Sampler)(resolveSamplerOptions({ sysfsRoot: root, rateHz: 100 }));
  try {
    t.deepEqual(Object.keys(native.stats()), [...NATIVE_STATS_KEYS]);
  } finally {
    native.close();
  }
  using sampler = openSampler({ sysfsRoot: root, rateHz: 100 });
  const stats = sampler.stats();
  const expected = Object.entries(STATS_FIELDS).filter(([, spec]) => spec.from !== 'addon').map(([key]) => key);
  t.deepEqual(Object.keys(stats), expected);
  t.is(stats.rateHz, 100);
  t.deepEqual(Object.keys(stats.effectiveResolutionHz), ['package-0', 'core-0', 'dram-0', 'psys', 'uncore-0']);
  t.deepEqual(
    SAMPLER_METRICS.map((m) => [m.name, m.value(stats)]),
    [
      ['wattmeter_sampler_rate_hertz', 100],
      ['wattmeter_sampler_ticks_total', stats.ticks],
      ['wattmeter_sampler_dropped_ticks_total', stats.dropped],
      ['wattmeter_sampler_overruns_total', stats.overruns],
      ['wattmeter_sampler_read_errors_total', stats.readErrors],
      ['wattmeter_sampler_ticks_sharing_millisecond_total', stats.ticksSharingMs],
      ['wattmeter_sampler_lateness_p50_seconds', stats.latenessUs.p50 / 1e6],
      ['wattmeter_sampler_lateness_p99_seconds', stats.latenessUs.p99 / 1e6],
      ['wattmeter_sampler_lateness_max_seconds', stats.latenessUs.max / 1e6],
    ],
  );
});
