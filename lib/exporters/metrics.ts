// The names, types, help texts and labels all three exporters share, so that one
// dashboard reads any of them and compares them by the `exporter` label.
import type { SamplerStats } from '../sampler.js';
import type { Domain } from '../batch.js';
import type { Labels, MetricInfo } from '../prometheus/metric.js';

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

/** Sampler self-monitoring, read from Sampler.stats(). */
export const SAMPLER_METRICS: readonly (MetricInfo & { value: (stats: SamplerStats) => number })[] = [
  { name: 'wattmeter_sampler_ticks_total', type: 'counter', help: 'Ticks the sampler thread recorded.', value: (s) => s.ticks },
  {
    name: 'wattmeter_sampler_dropped_ticks_total',
    type: 'counter',
    help: 'Ticks lost because the ring buffer was full (drained too late).',
    value: (s) => s.dropped,
  },
  {
    name: 'wattmeter_sampler_overruns_total',
    type: 'counter',
    help: 'Sampling deadlines missed entirely (the thread woke more than one period late).',
    value: (s) => s.overruns,
  },
  { name: 'wattmeter_sampler_read_errors_total', type: 'counter', help: 'Failed counter reads.', value: (s) => s.readErrors },
  {
    name: 'wattmeter_sampler_lateness_p50_seconds',
    type: 'gauge',
    help: 'Median lateness of the sampler thread behind its deadlines.',
    value: (s) => s.latenessUs.p50 / 1e6,
  },
  {
    name: 'wattmeter_sampler_lateness_p99_seconds',
    type: 'gauge',
    help: '99th percentile lateness of the sampler thread behind its deadlines.',
    value: (s) => s.latenessUs.p99 / 1e6,
  },
  {
    name: 'wattmeter_sampler_lateness_max_seconds',
    type: 'gauge',
    help: 'Largest lateness of the sampler thread behind its deadlines.',
    value: (s) => s.latenessUs.max / 1e6,
  },
  { name: 'wattmeter_sampler_rate_hertz', type: 'gauge', help: 'Configured sampling rate.', value: (s) => s.rateHz },
];

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
  queue: { name: 'wattmeter_remote_write_queue_samples', type: 'gauge', help: 'Samples waiting to be sent, including the request in flight.' },
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
