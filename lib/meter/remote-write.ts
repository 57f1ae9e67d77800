// Pushes measured segments to a Prometheus remote write receiver, for long-running jobs
// that nobody scrapes: the metrics of the prom-client handler (metrics.ts), one sample
// per series per segment, stamped with the segment's end. Delivery is the shared
// pusher (prometheus/pusher.ts): bounded queue, retries, auth, TLS, flush on close().
import { WattmeterError } from '../errors.js';
import { RemoteWritePusher, type RemoteWritePushOptions, type RemoteWriteStats } from '../prometheus/pusher.js';
import type { Series } from '../prometheus/queue.js';
import { DEFAULT_PREFIX, measuredMetrics, segmentSamples } from './metrics.js';
import type { EnergyReport } from './report.js';

export interface RemoteWriteHandlerOptions extends RemoteWritePushOptions {
  /** Metric name prefix (default wattmeter_measured), as promClientHandler's. */
  prefix?: string;
  /** Most samples waiting (default 100 000: thousands of segments of a few domains each). */
  queueCapacitySamples?: number;
}

/** An EnergyHandler that holds a connection: close() it (or `await using`) to flush. */
export interface RemoteWriteHandler {
  (report: EnergyReport): void;
  stats(): RemoteWriteStats;
  /** Pushes what is queued, giving up after closeTimeoutMs; reports handled later are dropped. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_QUEUE_SAMPLES = 100_000;

export function remoteWriteHandler(options: RemoteWriteHandlerOptions): RemoteWriteHandler {
  const { prefix = DEFAULT_PREFIX, ...pushOptions } = options;
  const metrics = measuredMetrics(prefix);
  const pusher = new RemoteWritePusher(pushOptions, DEFAULT_QUEUE_SAMPLES);
  // Remote write carries values, not increments: the handler keeps each counter's total.
  const totals = new Map<Series, number>();
  const lastMs = new Map<Series, number>();

  const handle = (report: EnergyReport) => {
    const samples = segmentSamples(report);
    const series = samples.map(({ metric, labels }) => pusher.series(metrics[metric].name, labels));
    const values = samples.map(({ metric, value }, i) => {
      if (metrics[metric].type === 'gauge') return value;
      const total = (totals.get(series[i]) ?? 0) + value;
      totals.set(series[i], total);
      return total;
    });
    // A series's timestamps must increase (a receiver rejects the whole request otherwise):
    // segments of one tag that end in the same millisecond, or out of order (concurrent
    // measure() calls), are stamped 1 ms after the previous sample instead.
    const timestampMs = Math.max(Math.round(report.endMs), ...series.map((s) => (lastMs.get(s) ?? -Infinity) + 1));
    for (const s of series) lastMs.set(s, timestampMs);
    const accepted = pusher.push(series, Float64Array.of(timestampMs), values.map((v) => Float64Array.of(v)));
    if (!accepted) options.onError?.(afterClose(report, samples.length));
  };
  return Object.assign(handle, {
    stats: () => pusher.stats(),
    close: () => pusher.close(),
    [Symbol.asyncDispose]: () => pusher.close(),
  });
}

function afterClose(report: EnergyReport, samples: number): WattmeterError {
  return new WattmeterError(
    `remoteWriteHandler: the report of segment "${report.tag}" came after close(), so its ${samples} samples are dropped; ` +
      'close the handler only once the meters and measure() calls that use it have finished.',
    { code: 'WATTMETER_REMOTE_WRITE' },
  );
}
