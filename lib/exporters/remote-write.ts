// The remote-write exporter: pushes every tick (folded to one sample per series per
// millisecond, see fold.ts) to a Prometheus remote write 1.0 receiver, with its own
// self-monitoring series, since nobody scrapes it. Delivery (queue, retries, backoff,
// Retry-After, close, shards, the durable queue) is the pusher's, see prometheus/pusher.ts;
// the in-memory queue holds 10 minutes' worth by default.
import type { Sampler, SamplerStats } from '../sampler.js';
import type { Labels, MetricInfo } from '../prometheus/metric.js';
import { RemoteWritePusher, type RemoteWritePushOptions, type RemoteWriteStats } from '../prometheus/pusher.js';
import type { Series } from '../prometheus/queue.js';
import { AttributionSeries, type AttributionExportOptions, type SeriesSamples } from './attribution.js';
import { MillisecondFolder, type Folded } from './fold.js';
import { follow, type Follower } from './follow.js';
import { ENERGY, POWER, REMOTE_WRITE, SAMPLER_METRICS, domainLabels } from './metrics.js';

export type { RemoteWriteAuth, RemoteWriteStats } from '../prometheus/pusher.js';

export interface RemoteWriteOptions extends RemoteWritePushOptions {
  sampler: Sampler;
  /**
   * A request goes out when maxSamplesPerRequest samples are waiting, or this long after
   * the previous one began (default 1000 ms). The sampler is drained at least every second
   * whatever this is, so that its ring never overflows.
   */
  pushIntervalMs?: number;
  /** Most samples waiting in memory (default: 10 minutes' worth at the sampler's rate); with queueDir, maxQueueBytes bounds instead. */
  queueCapacitySamples?: number;
  /** Which processes and cgroups get series, when the sampler attributes (see attribution.ts). */
  attribution?: AttributionExportOptions;
}

const EXPORTER = 'remote_write';
const DATA_METRICS = [ENERGY, POWER];
const QUEUE_SECONDS = 600;
// The sampler's ring holds 10 s by default: drain well within that, however slow the pushes.
const MAX_DRAIN_INTERVAL_MS = 1000;

export class RemoteWriteExporter {
  readonly url: URL;
  /** The URL fit to print: user info and query values replaced by xxxxx. */
  readonly redactedUrl: string;
  #pusher: RemoteWritePusher;
  #folder: MillisecondFolder;
  #dataSeries: Series[];
  #drainer: Follower;
  #attribution: AttributionSeries | undefined;
  #selfDueMs = 0;
  #closed: Promise<void> | undefined;

  constructor(options: RemoteWriteOptions) {
    const { sampler, attribution, ...pushOptions } = options;
    const drainIntervalMs = Math.min(options.pushIntervalMs ?? 1000, MAX_DRAIN_INTERVAL_MS);
    // Data: at most one sample per series per ms; self-monitoring: a few dozen series per drain.
    const dataSeries = DATA_METRICS.length * sampler.domains.length;
    const perSecond = Math.min(sampler.rateHz, 1000) * dataSeries + (32 * 1000) / drainIntervalMs;
    this.#pusher = new RemoteWritePusher(pushOptions, Math.ceil(QUEUE_SECONDS * perSecond));
    this.url = this.#pusher.url;
    this.redactedUrl = this.#pusher.redactedUrl;
    this.#folder = new MillisecondFolder(sampler.domains);
    this.#dataSeries = DATA_METRICS.flatMap((info) => sampler.domains.map((d) => this.#pusher.series(info.name, domainLabels(d, EXPORTER))));
    if (sampler.attribution) this.#attribution = new AttributionSeries(sampler.domains, EXPORTER, attribution);
    // Ticks may come more often when another subscriber asks for less delay: the
    // self-monitoring series stay at one sample per drain interval.
    this.#drainer = follow(sampler, drainIntervalMs, (batch) => {
      this.#pushData(this.#folder.push(batch));
      if (this.#attribution) this.#pushAttributed(this.#attribution.ingest(batch.attribution));
      const nowMs = performance.now();
      if (nowMs < this.#selfDueMs) return;
      this.#selfDueMs = nowMs + drainIntervalMs;
      this.#pushSelf(sampler.stats());
    });
  }

  stats(): RemoteWriteStats {
    return this.#pusher.stats();
  }

  /** Drains the sampler a last time and pushes everything left, giving up after closeTimeoutMs. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#drainer.stop();
      this.#pushData(this.#folder.flush());
      await this.#pusher.close();
    })();
    return this.#closed;
  }

  #pushData(folded: Folded): void {
    this.#pusher.push(this.#dataSeries, folded.timestampsMs, [...folded.energyJ, ...folded.powerW]);
  }

  #pushAttributed(samples: readonly SeriesSamples[]): void {
    for (const { series, timestampsMs, energyJ } of samples) {
      const target = series.labels.map((labels) => this.#pusher.series(series.info.name, labels));
      this.#pusher.push(target, Float64Array.from(timestampsMs), energyJ.map((joules) => Float64Array.from(joules)));
    }
  }

  #pushSelf(sampler: SamplerStats): void {
    const s = this.stats();
    const exporter = { exporter: EXPORTER };
    const rows: [MetricInfo, Labels, number][] = [
      ...SAMPLER_METRICS.map((m) => [m, exporter, m.value(sampler)] as [MetricInfo, Labels, number]),
      [REMOTE_WRITE.sent, exporter, s.sent],
      [REMOTE_WRITE.failed, exporter, s.failed],
      [REMOTE_WRITE.retried, exporter, s.retried],
      [REMOTE_WRITE.dropped, exporter, s.dropped],
      [REMOTE_WRITE.queue, exporter, s.queued],
      [REMOTE_WRITE.shards, exporter, s.shards],
      [REMOTE_WRITE.queueBytes, exporter, s.queueBytes],
      [REMOTE_WRITE.corruptSegments, exporter, s.corruptSegments],
      [REMOTE_WRITE.corruptBytes, exporter, s.corruptBytes],
      [REMOTE_WRITE.replayed, exporter, s.replayed],
      ...Object.entries(s.requests).map(([code, n]) => [REMOTE_WRITE.requests, { ...exporter, code }, n] as [MetricInfo, Labels, number]),
    ];
    if (s.lastSuccessMs > 0) rows.push([REMOTE_WRITE.lastSuccess, exporter, s.lastSuccessMs / 1000]);
    this.#pusher.push(
      rows.map(([info, labels]) => this.#pusher.series(info.name, labels)),
      Float64Array.of(Date.now()),
      rows.map(([, , value]) => Float64Array.of(value)),
    );
  }
}

/** Starts the sampler (if needed), drains it on a timer and pushes. */
export function startRemoteWriteExporter(options: RemoteWriteOptions): RemoteWriteExporter {
  return new RemoteWriteExporter(options);
}
