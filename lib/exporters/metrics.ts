// The names, types, help texts and labels all three exporters share, so that one
// dashboard reads any of them and compares them by the `exporter` label.
import type { Domain } from '../batch.js';
import type { Labels, MetricInfo } from '../prometheus/metric.js';
import { STATS_FIELDS, type Lateness, type SamplerStats, type StatsMetric } from '../stats.js';

export type ExporterName = 'simple' | 'multirate' | 'remote_write';

export const ENERGY: MetricInfo = {
  name: 'wattmeter_energy_joules_total',
  type: 'counter',
  help: 'Energy used since the exporter started (its first tick), wrap-corrected.',
};

export const POWER: MetricInfo = {
  name: 'wattmeter_power_watts',
  type: 'gauge',
  help:
    'Mean power over a window: simple, the last 1 s of ticks before the scrape; ' +
    'multirate and remote_write, since the previous sample of the same series.',
};

/** Sampler self-monitoring: the metrics declared with the stats fields they read. */
export const SAMPLER_METRICS: readonly (MetricInfo & { value: (stats: SamplerStats) => number })[] = Object.entries(
  STATS_FIELDS,
).flatMap(([key, spec]) =>
  ('metrics' in spec ? spec.metrics : []).map(({ name, type, help, ...unit }: StatsMetric) => ({
    name,
    type,
    help,
    value: (stats: SamplerStats) => {
      const field = stats[key as keyof SamplerStats] as number | Lateness;
      const value = unit.part === undefined ? (field as number) : (field as Lateness)[unit.part];
      // To a thousandth of the field's unit (lateness: a nanosecond) before the division,
      // so the value prints as its decimal: 0.000017536, not 0.000017536000000000003.
      return unit.divideBy === undefined ? value : Math.round(value * 1000) / (unit.divideBy * 1000);
    },
  })),
);

/**
 * Joules and watts to the micro unit, as multirate writes them: finer than any RAPL counter
 * (15.3 uJ at best), and printed without float noise.
 */
export function toMicro(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export const MULTIRATE_SAMPLES_SERVED: MetricInfo = {
  name: 'wattmeter_multirate_samples_served_total',
  type: 'counter',
  help: 'Timestamped samples written to scrapers, counting each one every time it is served again.',
};

export const MULTIRATE_SAMPLES_EXPIRED: MetricInfo = {
  name: 'wattmeter_multirate_samples_expired_total',
  type: 'counter',
  help: 'Timestamped samples that left the window before any scrape served them (lost: scrapes further apart than WATTMETER_MULTIRATE_WINDOW_MS, or none yet).',
};

export const MULTIRATE_SCRAPES: MetricInfo = {
  name: 'wattmeter_multirate_scrapes_total',
  type: 'counter',
  help: 'Scrapes served, by exposition format (format="openmetrics" or "text": text format 0.0.4, whose repeated lines per series Prometheus does not promise to keep).',
};

export const REMOTE_WRITE = {
  sent: { name: 'wattmeter_remote_write_samples_sent_total', type: 'counter', help: 'Samples the receiver accepted (2xx).' },
  failed: {
    name: 'wattmeter_remote_write_samples_failed_total',
    type: 'counter',
    help: 'Samples the receiver rejected with a 4xx other than 429 (never retried).',
  },
  retried: {
    name: 'wattmeter_remote_write_samples_retried_total',
    type: 'counter',
    help: 'Samples sent again after a 5xx, a 429 or a network error.',
  },
  dropped: {
    name: 'wattmeter_remote_write_samples_dropped_total',
    type: 'counter',
    help: 'Samples dropped unsent: the oldest when the queue was full, and what was left when closing timed out.',
  },
  requests: { name: 'wattmeter_remote_write_requests_total', type: 'counter', help: 'Write requests by HTTP status (code="error": no response).' },
  queue: { name: 'wattmeter_remote_write_queue_samples', type: 'gauge', help: 'Samples waiting to be sent, including the requests in flight.' },
  shards: { name: 'wattmeter_remote_write_shards', type: 'gauge', help: 'Requests sent at once in the latest round, each to its own share of the series.' },
  queueBytes: {
    name: 'wattmeter_remote_write_queue_bytes',
    type: 'gauge',
    help: 'Bytes of the durable queue files (queue directory); 0 with the in-memory queue.',
  },
  corruptSegments: {
    name: 'wattmeter_remote_write_queue_corrupt_segments_total',
    type: 'counter',
    help: 'Queue files found damaged (a record torn by a crash, or corrupt): the rest of each was skipped.',
  },
  corruptBytes: {
    name: 'wattmeter_remote_write_queue_corrupt_bytes_total',
    type: 'counter',
    help: 'Bytes of damaged queue files skipped.',
  },
  replayed: {
    name: 'wattmeter_remote_write_samples_replayed_total',
    type: 'counter',
    help: 'Samples read back from queue files a previous run wrote, to be sent.',
  },
  lastSuccess: {
    name: 'wattmeter_remote_write_last_success_timestamp_seconds',
    type: 'gauge',
    help: 'When the receiver last accepted a request (Unix time).',
  },
} as const satisfies Record<string, MetricInfo>;

/** The labels of a domain's energy and power series. */
export function domainLabels(domain: Domain, exporter: ExporterName): Labels {
  return { domain: domain.name, source: domain.source, exporter };
}
