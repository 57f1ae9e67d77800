// Metric values are rounded before they are written, so the exposition shows the decimal
// a reader expects: the lateness gauges once printed 0.000017536000000000003.
import test from 'ava';
import { SAMPLER_METRICS, toMicro } from '../../lib/exporters/metrics.js';
import { formatValue } from '../../lib/prometheus/metric.js';
import type { SamplerStats } from '../../lib/stats.js';

test('lateness in seconds, to the nanosecond, without float noise', (t) => {
  const stats = { latenessUs: { p50: 17.536, p99: 123.4567, max: 0.1 } } as unknown as SamplerStats;
  const written = Object.fromEntries(
    SAMPLER_METRICS.filter((m) => m.name.startsWith('wattmeter_sampler_lateness_')).map((m) => [m.name, formatValue(m.value(stats))]),
  );
  t.deepEqual(written, {
    wattmeter_sampler_lateness_p50_seconds: '0.000017536',
    wattmeter_sampler_lateness_p99_seconds: '0.000123457',
    wattmeter_sampler_lateness_max_seconds: '1e-7',
  });
  t.not(String(17.536 / 1e6), '0.000017536', 'the division alone is noisy');
});

test('joules and watts to the micro unit', (t) => {
  t.is(formatValue(toMicro(0.1 + 0.2)), '0.3');
  t.is(formatValue(toMicro(20.0123456789)), '20.012346');
});
