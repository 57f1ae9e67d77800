// The metrics of measured segments: names, types, help, labels, and what each settled
// segment adds to them, in one place for every handler that exports them (prom-client,
// remote write), so that a dashboard reads either. The names differ from the exporters'
// (wattmeter_energy_joules_total...), which describe the whole machine, not segments.
import { usageError } from '../errors.js';
import type { Labels, MetricType } from '../prometheus/metric.js';
import type { EnergyReport } from './report.js';

export const DEFAULT_PREFIX = 'wattmeter_measured';

const DOMAIN_LABELS = ['tag', 'domain', 'source'] as const;
const TAG_LABELS = ['tag'] as const;

const MEASURED = {
  energy: { suffix: 'energy_joules_total', type: 'counter', help: 'Energy used during measured segments, per tag and domain.', labelNames: DOMAIN_LABELS },
  duration: { suffix: 'duration_seconds_total', type: 'counter', help: 'Time spent in measured segments, per tag.', labelNames: TAG_LABELS },
  segments: { suffix: 'segments_total', type: 'counter', help: 'Measured segments settled, per tag.', labelNames: TAG_LABELS },
  power: { suffix: 'power_watts', type: 'gauge', help: 'Mean power of the latest segment of each tag.', labelNames: DOMAIN_LABELS },
  peakPower: {
    suffix: 'peak_power_watts',
    type: 'gauge',
    help: 'Peak power (highest timeline bin) of the latest segment of each tag.',
    labelNames: DOMAIN_LABELS,
  },
} as const satisfies Record<string, { suffix: string; type: MetricType; help: string; labelNames: readonly string[] }>;

export type MeasuredMetric = keyof typeof MEASURED;

export interface MeasuredMetricInfo {
  name: string;
  type: MetricType;
  help: string;
  labelNames: readonly string[];
}

/** The metrics under `prefix`; a prefix that makes no valid metric name is a usage error. */
export function measuredMetrics(prefix = DEFAULT_PREFIX): Record<MeasuredMetric, MeasuredMetricInfo> {
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw usageError(`prefix must start with a letter, _ or : and hold only letters, digits, _ and : (a Prometheus metric name); got "${prefix}".`);
  }
  const entries = Object.entries(MEASURED).map(([key, { suffix, ...rest }]) => [key, { name: `${prefix}_${suffix}`, ...rest }]);
  return Object.fromEntries(entries) as Record<MeasuredMetric, MeasuredMetricInfo>;
}

/** For a counter, what the segment adds to it; for a gauge, its new value. */
export interface MeasuredSample {
  metric: MeasuredMetric;
  labels: Labels;
  value: number;
}

/** What one settled segment does to each metric; non-finite figures are left out. */
export function segmentSamples(report: EnergyReport): MeasuredSample[] {
  const { tag, source } = report;
  const samples: MeasuredSample[] = [
    { metric: 'duration', labels: { tag }, value: report.durationMs / 1000 },
    { metric: 'segments', labels: { tag }, value: 1 },
  ];
  for (const [domain, d] of Object.entries(report.domains)) {
    const labels = { tag, domain, source };
    if (Number.isFinite(d.joules) && d.joules >= 0) samples.push({ metric: 'energy', labels, value: d.joules });
    if (Number.isFinite(d.watts)) samples.push({ metric: 'power', labels, value: d.watts });
    if (Number.isFinite(d.peakWatts)) samples.push({ metric: 'peakPower', labels, value: d.peakWatts });
  }
  return samples;
}
