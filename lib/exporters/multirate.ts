// The multirate exporter: every tick reaches Prometheus, as text-format 0.0.4 lines with
// explicit millisecond timestamps (at most one per series per millisecond, see fold.ts).
//
// What a scrape holds: every sample of the last `windowMs` (a sliding window), the same
// for every scraper. The exporter keeps no per-scraper state, so
// - a scrape that fails or times out loses nothing: the next scrape serves the same
//   samples again, as long as the outage is shorter than the window minus one scrape
//   interval; samples that leave the window unserved are counted as expired (lost);
// - two (or more) Prometheus servers scraping one exporter each get every sample;
// - samples a server already stored come again and are dropped by it as out of order
//   (counted in prometheus_target_scrapes_sample_out_of_order_total, with a warning in
//   its log per scrape); the newest one comes again with the same timestamp and the same
//   value, which Prometheus accepts silently. Values never change once served: a
//   millisecond is only emitted once complete, and power is fixed when it is folded.
// The cost: each sample crosses the network windowMs / scrape_interval times.
//
// Prometheus versions: 2.42 (Debian bookworm, tested here), 2.53.3+, 2.54.1+ and every
// 3.x store all the lines of a series in one scrape; 2.52.0 to 2.53.2 and 2.54.0 keep
// only one of them per scrape (prometheus/prometheus#14503, #14685). Series with explicit
// timestamps get no staleness markers: when the exporter stops, queries see the last
// sample for the lookback delta (5 min). Prometheus's docs discourage timestamps in
// exposition; this exporter exists to measure that trade-off against the other two.
//
// Each drain renders its samples to text once (a chunk); a scrape only concatenates the
// chunks of the window, so serving it again, or to several servers, costs no formatting.
import type { Batch, Domain } from '../batch.js';
import type { Sampler } from '../sampler.js';
import { serveMetrics, type MetricsServer, type MetricsServerOptions } from '../prometheus/http.js';
import { formatLabels, formatValue, header } from '../prometheus/metric.js';
import { TEXT_FORMAT, renderLines } from '../prometheus/text.js';
import { MillisecondFolder, type Folded } from './fold.js';
import { follow } from './follow.js';
import { ENERGY, MULTIRATE_SAMPLES_EXPIRED, MULTIRATE_SAMPLES_SERVED, POWER, SAMPLER_METRICS, domainLabels } from './metrics.js';

export interface MultirateExporterOptions extends MetricsServerOptions {
  sampler: Sampler;
  /**
   * Every scrape serves the samples of the last windowMs (default 30 000). Make it at
   * least scrape_interval x (1 + the failed scrapes in a row to survive) + 1 s. The
   * window is held as rendered text: about 100 bytes per sample, two samples per domain
   * and millisecond at 1 kHz (6 MB per domain for 30 s).
   */
  windowMs?: number;
  /** How often to drain the sampler, in ms (default 100). */
  drainIntervalMs?: number;
}

const DEFAULT_WINDOW_MS = 30_000;
const EXPORTER = 'multirate';

/** The text of one drain's samples: per domain, its energy lines and its power lines. */
interface Chunk {
  lastMs: number;
  samples: number;
  served: boolean;
  energy: Buffer[];
  power: Buffer[];
}

/** The samples of the last windowMs, rendered once, served to every scrape. */
export class MultirateWindow {
  readonly windowMs: number;
  #folder: MillisecondFolder;
  #energyPrefixes: Buffer[];
  #powerPrefixes: Buffer[];
  #chunks: Chunk[] = [];
  #expired = 0;

  constructor(domains: readonly Domain[], windowMs = DEFAULT_WINDOW_MS) {
    this.windowMs = windowMs;
    this.#folder = new MillisecondFolder(domains);
    const labels = domains.map((d) => formatLabels(domainLabels(d, EXPORTER)));
    this.#energyPrefixes = labels.map((l) => Buffer.from(`${ENERGY.name}${l} `));
    this.#powerPrefixes = labels.map((l) => Buffer.from(`${POWER.name}${l} `));
  }

  /** Folds and renders a drained batch, and forgets chunks older than the window. */
  add(batch: Batch, nowMs = Date.now()): void {
    const folded = this.#folder.push(batch);
    if (folded.length > 0) this.#chunks.push(this.#render(folded));
    const oldest = nowMs - this.windowMs;
    const kept = this.#chunks.findIndex((c) => c.lastMs >= oldest);
    for (const c of this.#chunks.splice(0, kept === -1 ? this.#chunks.length : kept)) {
      if (!c.served) this.#expired += c.samples;
    }
  }

  /** Samples that left the window before any scrape served them. */
  get expiredSamples(): number {
    return this.#expired;
  }

  /** The timestamped part of a scrape, and how many samples it holds. */
  scrape(nowMs = Date.now()): { chunks: Buffer[]; samples: number } {
    const live = this.#chunks.filter((c) => c.lastMs >= nowMs - this.windowMs);
    for (const c of live) c.served = true;
    const chunks: Buffer[] = [];
    // All lines of one series together, in time order, each family under its header.
    for (const [info, pick] of [[ENERGY, (c: Chunk) => c.energy], [POWER, (c: Chunk) => c.power]] as const) {
      chunks.push(Buffer.from(header(info)));
      for (let d = 0; d < this.#energyPrefixes.length; d++) for (const c of live) chunks.push(pick(c)[d]);
    }
    return { chunks, samples: live.reduce((n, c) => n + c.samples, 0) };
  }

  #render(folded: Folded): Chunk {
    const { timestampsMs } = folded;
    return {
      lastMs: timestampsMs[folded.length - 1],
      samples: folded.length * 2 * this.#energyPrefixes.length,
      served: false,
      energy: this.#energyPrefixes.map((prefix, d) => renderLines(prefix, folded.energyJ[d], timestampsMs)),
      power: this.#powerPrefixes.map((prefix, d) => renderLines(prefix, folded.powerW[d], timestampsMs)),
    };
  }
}

/** Starts the sampler (if needed), drains it on a timer and serves /metrics. */
export async function startMultirateExporter(options: MultirateExporterOptions): Promise<MetricsServer> {
  const { sampler } = options;
  const window = new MultirateWindow(sampler.domains, options.windowMs);
  let served = 0;
  let stats = sampler.stats();
  const drainer = follow(sampler, options.drainIntervalMs ?? 100, (batch) => window.add(batch));
  const server = await serveMetrics(options, () => {
    const { chunks, samples } = window.scrape();
    served += samples;
    if (!sampler.closed) stats = sampler.stats();
    const self = [
      ...SAMPLER_METRICS.map((m) => [m, m.value(stats)] as const),
      [MULTIRATE_SAMPLES_SERVED, served] as const,
      [MULTIRATE_SAMPLES_EXPIRED, window.expiredSamples] as const,
    ];
    const text = self.map(([info, value]) => `${header(info)}${info.name}${formatLabels({ exporter: EXPORTER })} ${formatValue(value)}\n`);
    return { contentType: TEXT_FORMAT, chunks: [...chunks, Buffer.from(text.join(''))] };
  }).catch((error) => {
    drainer.stop();
    throw error;
  });
  return {
    ...server,
    async close() {
      drainer.stop();
      await server.close();
    },
  };
}
