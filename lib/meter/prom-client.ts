// Feeds prom-client from measured segments, for long-running jobs that already expose
// /metrics: each settled segment adds its joules and seconds to counters and sets the
// mean and peak power gauges of its tag (the metrics are defined in metrics.ts).
import { Counter, Gauge, register, type Registry } from 'prom-client';
import type { EnergyHandler } from './report.js';
import { DEFAULT_PREFIX, measuredMetrics, segmentSamples, type MeasuredMetricInfo } from './metrics.js';

export interface PromClientHandlerOptions {
  /** Default: prom-client's global registry. */
  registry?: Registry;
  /** Metric name prefix (default wattmeter_measured). */
  prefix?: string;
}

export function promClientHandler({ registry = register, prefix = DEFAULT_PREFIX }: PromClientHandlerOptions = {}): EnergyHandler {
  const metrics = measuredMetrics(prefix);
  // Two handlers on one registry share the metrics instead of failing to register twice.
  const registered = (info: MeasuredMetricInfo) => {
    const existing = registry.getSingleMetric(info.name) as Counter | Gauge | undefined;
    const { name, help, labelNames } = info;
    return existing ?? new (info.type === 'counter' ? Counter : Gauge)({ name, help, labelNames, registers: [registry] });
  };
  const byMetric = Object.fromEntries(Object.entries(metrics).map(([key, info]) => [key, registered(info)]));

  return (report) => {
    for (const { metric, labels, value } of segmentSamples(report)) {
      const target = byMetric[metric];
      if (target instanceof Counter) target.inc(labels, value);
      else target.set(labels, value);
    }
  };
}
