// Feeds prom-client from measured segments, for long-running jobs that already expose
// /metrics: each settled segment adds its joules and seconds to counters and sets the
// mean and peak power gauges of its tag. The names differ from the exporters'
// (wattmeter_energy_joules_total...), which describe the whole machine, not segments.
import { Counter, Gauge, register, type Registry } from 'prom-client';
import type { EnergyHandler } from './report.js';

export interface PromClientHandlerOptions {
  /** Default: prom-client's global registry. */
  registry?: Registry;
  /** Metric name prefix (default wattmeter_measured). */
  prefix?: string;
}

export function promClientHandler({ registry = register, prefix = 'wattmeter_measured' }: PromClientHandlerOptions = {}): EnergyHandler {
  const labelNames = ['tag', 'domain', 'source'] as const;
  // Two handlers on one registry share the metrics instead of failing to register twice.
  const counter = (name: string, help: string, labels: readonly string[]) =>
    (registry.getSingleMetric(name) as Counter) ?? new Counter({ name, help, labelNames: labels, registers: [registry] });
  const gauge = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Gauge) ?? new Gauge({ name, help, labelNames, registers: [registry] });

  const energy = counter(`${prefix}_energy_joules_total`, 'Energy used during measured segments, per tag and domain.', labelNames);
  const seconds = counter(`${prefix}_duration_seconds_total`, 'Time spent in measured segments, per tag.', ['tag']);
  const segments = counter(`${prefix}_segments_total`, 'Measured segments settled, per tag.', ['tag']);
  const watts = gauge(`${prefix}_power_watts`, 'Mean power of the latest segment of each tag.');
  const peak = gauge(`${prefix}_peak_power_watts`, 'Peak power (highest timeline bin) of the latest segment of each tag.');

  return (report) => {
    const { tag, source } = report;
    seconds.inc({ tag }, report.durationMs / 1000);
    segments.inc({ tag });
    for (const [domain, d] of Object.entries(report.domains)) {
      const labels = { tag, domain, source };
      if (Number.isFinite(d.joules) && d.joules >= 0) energy.inc(labels, d.joules);
      if (Number.isFinite(d.watts)) watts.set(labels, d.watts);
      if (Number.isFinite(d.peakWatts)) peak.set(labels, d.peakWatts);
    }
  };
}
