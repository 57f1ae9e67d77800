// The multirate exporter: every tick reaches Prometheus as its own timestamped sample (at
// most one per series per millisecond, see fold.ts), many samples per series in a scrape.
//
// Two exposition formats, negotiated on the Accept header (lib/prometheus/accept.ts):
// - OpenMetrics 1.0, to a client that prefers application/openmetrics-text, as Prometheus
//   does by default. OpenMetrics allows several points of one series in an exposition,
//   together and with rising timestamps: counter families named without `_total`
//   (samples with), timestamps in seconds with three decimals, `# EOF` at the end.
//   Prometheus 2.42 stores every one of them (tested here at 1 kHz).
// - The text format 0.0.4 otherwise (no Accept header, text/plain, */*): the same
//   samples, ms timestamps. This relies on behaviour Prometheus does not promise: its
//   exposition docs want one line per series ("otherwise, the ingestion behavior is
//   undefined"). `wattmeter_multirate_scrapes_total{format}` tells which one is used.
// Prometheus versions, in either format: 2.42 (tested), 2.53.3+, 2.54.1+ and 3.x store
// every sample of a series in a scrape; 2.52.0 to 2.53.2 and 2.54.0 keep only one of them
// per scrape, OpenMetrics or not: their check is in the scrape loop, not in a parser
// (prometheus/prometheus#14503, #14501; fixed by #14685).
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
// Series with explicit timestamps get no staleness markers: when the exporter stops,
// queries see the last sample for the lookback delta (5 min). Prometheus's docs
// discourage timestamps in exposition; this exporter exists to measure that trade-off
// against the other two.
//
// Each drain's samples (a chunk) are kept as numbers (about 9 bytes a sample) and rendered
// to text once per format that is being scraped (about 100 bytes a sample each): the whole
// window at the first scrape in a format (about 60 ms for 30 s of 5 domains at 1 kHz),
// then each drain as it comes for as long as scrapes in that format keep coming (one
// within the window); when they stop, that format's text is dropped. A scrape only
// concatenates the chunks of the window, so serving it again, or to several servers,
// costs no formatting. With one format in use, the numbers cost about 8 % more memory
// than its text alone; the other format is never rendered. The alternatives: rendering
// both formats at each drain doubles the memory whatever the scrapers; rendering at each
// scrape formats every sample windowMs / scrape_interval times; deriving one format's text
// from the other's ties their layouts together.
import type { Batch, Domain } from '../batch.js';
import type { Sampler } from '../sampler.js';
import { EXPOSITION_FORMATS, type ExpositionFormat } from '../prometheus/accept.js';
import { serveMetrics, type MetricsServer, type MetricsServerOptions } from '../prometheus/http.js';
import { family, formatLabels, header, sampleName } from '../prometheus/metric.js';
import { CONTENT_TYPE, EOF, renderLines } from '../prometheus/text.js';
import { MillisecondFolder, copyFolded, type Folded } from './fold.js';
import { AttributionSeries, type AttributionExportOptions } from './attribution.js';
import { AttributionWindow } from './attribution-window.js';
import { follow, type ExporterMetrics } from './follow.js';
import { ENERGY, MULTIRATE_SAMPLES_EXPIRED, MULTIRATE_SAMPLES_SERVED, MULTIRATE_SCRAPES, POWER, SAMPLER_METRICS, domainLabels } from './metrics.js';

export interface MultirateExporterOptions extends MetricsServerOptions {
  sampler: Sampler;
  /**
   * Every scrape serves the samples of the last windowMs (default 30 000). Make it at
   * least scrape_interval x (1 + the failed scrapes in a row to survive) + 1 s. The
   * window is held as numbers (about 9 bytes per sample) and as the text of each format
   * being scraped (about 100 bytes per sample), two samples per domain and millisecond at
   * 1 kHz: 6.5 MB per domain for 30 s with one format, 12.5 MB while both are scraped.
   */
  windowMs?: number;
  /** How often to drain the sampler, in ms (default 100). */
  drainIntervalMs?: number;
  /** Which processes and cgroups get series, when the sampler attributes (see attribution.ts). */
  attribution?: AttributionExportOptions;
}

const DEFAULT_WINDOW_MS = 30_000;
const EXPORTER = 'multirate';

/** Per domain, the energy series' and the power series' lines. */
interface Lines {
  energy: Buffer[];
  power: Buffer[];
}

/** One drain's samples: as numbers, and as the lines of each format being scraped. */
interface Chunk {
  lastMs: number;
  samples: number;
  served: boolean;
  folded: Folded;
  lines: Record<ExpositionFormat, Lines | undefined>;
}

/** The samples of the last windowMs, rendered once per format, served to every scrape. */
export class MultirateWindow {
  readonly windowMs: number;
  #folder: MillisecondFolder;
  /** Per format, the `name{labels} ` that starts every line of a series. */
  #prefixes: Record<ExpositionFormat, Lines>;
  #chunks: Chunk[] = [];
  #expired = 0;
  /** When each format was last scraped. */
  #scrapedMs: Record<ExpositionFormat, number> = { text: -Infinity, openmetrics: -Infinity };
  /** Whether every chunk holds the format's lines (from a scrape in it until they are dropped). */
  #holds: Record<ExpositionFormat, boolean> = { text: false, openmetrics: false };

  constructor(domains: readonly Domain[], windowMs = DEFAULT_WINDOW_MS) {
    this.windowMs = windowMs;
    this.#folder = new MillisecondFolder(domains);
    const labels = domains.map((d) => formatLabels(domainLabels(d, EXPORTER)));
    const prefixes = (format: ExpositionFormat): Lines => ({
      energy: labels.map((l) => Buffer.from(`${sampleName(ENERGY, format)}${l} `)),
      power: labels.map((l) => Buffer.from(`${sampleName(POWER, format)}${l} `)),
    });
    this.#prefixes = { text: prefixes('text'), openmetrics: prefixes('openmetrics') };
  }

  /**
   * Folds a drained batch, forgets chunks older than the window, renders the new one in
   * each format scraped within the window, and drops the text of the others.
   */
  add(batch: Batch, nowMs = Date.now()): void {
    const folded = this.#folder.push(batch);
    const oldest = nowMs - this.windowMs;
    const kept = this.#chunks.findIndex((c) => c.lastMs >= oldest);
    for (const c of this.#chunks.splice(0, kept === -1 ? this.#chunks.length : kept)) {
      if (!c.served) this.#expired += c.samples;
    }
    if (folded.length > 0) {
      const copy = copyFolded(folded);
      const lines = (format: ExpositionFormat) => (this.#holds[format] ? this.#render(copy, format) : undefined);
      this.#chunks.push({
        lastMs: copy.timestampsMs[copy.length - 1],
        samples: copy.length * 2 * this.#prefixes.text.energy.length,
        served: false,
        folded: copy,
        lines: { text: lines('text'), openmetrics: lines('openmetrics') },
      });
    }
    for (const format of EXPOSITION_FORMATS) {
      if (!this.#holds[format] || nowMs - this.#scrapedMs[format] <= this.windowMs) continue;
      for (const c of this.#chunks) c.lines[format] = undefined; // its scrapers stopped
      this.#holds[format] = false;
    }
  }

  /** Samples that left the window before any scrape served them. */
  get expiredSamples(): number {
    return this.#expired;
  }

  /**
   * The timestamped part of a scrape in a format, and how many samples it holds: each
   * family under its header, all the points of one series together, in time order.
   */
  scrape(nowMs = Date.now(), format: ExpositionFormat = 'text'): { chunks: Buffer[]; samples: number } {
    this.#scrapedMs[format] = nowMs;
    this.#holds[format] = true;
    const live = this.#chunks.filter((c) => c.lastMs >= nowMs - this.windowMs);
    const lines = live.map((c) => (c.lines[format] ??= this.#render(c.folded, format)));
    for (const c of live) c.served = true;
    const chunks: Buffer[] = [];
    for (const [info, series] of [[ENERGY, 'energy'], [POWER, 'power']] as const) {
      chunks.push(Buffer.from(header(info, format)));
      for (let d = 0; d < this.#prefixes.text.energy.length; d++) for (const l of lines) chunks.push(l[series][d]);
    }
    return { chunks, samples: live.reduce((n, c) => n + c.samples, 0) };
  }

  #render(folded: Folded, format: ExpositionFormat): Lines {
    const { energy, power } = this.#prefixes[format];
    const lines = renderLines(
      [...energy.map((prefix, d) => ({ prefix, values: folded.energyJ[d] })), ...power.map((prefix, d) => ({ prefix, values: folded.powerW[d] }))],
      folded.timestampsMs,
      format,
    );
    return { energy: lines.slice(0, energy.length), power: lines.slice(energy.length) };
  }
}

/** Starts the sampler (if needed), drains it on a timer and serves /metrics. */
export async function startMultirateExporter(options: MultirateExporterOptions): Promise<MetricsServer> {
  const { render, stop } = multirateMetrics(options.sampler, options);
  const server = await serveMetrics(options, render).catch((error) => {
    stop();
    throw error;
  });
  return {
    ...server,
    async close() {
      stop();
      await server.close();
    },
  };
}

/** Follows the sampler into a window; render() is a scrape of it. */
export function multirateMetrics(
  sampler: Sampler,
  options: Pick<MultirateExporterOptions, 'windowMs' | 'drainIntervalMs' | 'attribution'> = {},
): ExporterMetrics {
  const window = new MultirateWindow(sampler.domains, options.windowMs);
  let served = 0;
  const scrapes: Record<ExpositionFormat, number> = { text: 0, openmetrics: 0 };
  let stats = sampler.stats();
  // Attributed energy, when the sampler attributes: its own window, beside the energy's.
  const attribution = sampler.attribution && {
    series: new AttributionSeries(sampler.domains, EXPORTER, options.attribution),
    window: new AttributionWindow(window.windowMs),
  };
  const drainer = follow(sampler, options.drainIntervalMs ?? 100, (batch) => {
    window.add(batch);
    attribution?.window.add(attribution.series.ingest(batch.attribution));
  });
  return {
    render(format) {
      const nowMs = Date.now();
      const energy = window.scrape(nowMs, format);
      const attributed = attribution?.window.scrape(nowMs, format) ?? { chunks: [], samples: 0 };
      served += energy.samples + attributed.samples;
      scrapes[format]++;
      if (!sampler.closed) stats = sampler.stats();
      const labels = { exporter: EXPORTER };
      // Untimestamped, after the timestamped families; `# EOF` ends an OpenMetrics exposition.
      const self = [
        ...SAMPLER_METRICS.map((info) => family(info, [[labels, info.value(stats)]], format)),
        family(MULTIRATE_SAMPLES_SERVED, [[labels, served]], format),
        family(MULTIRATE_SAMPLES_EXPIRED, [[labels, window.expiredSamples]], format),
        family(MULTIRATE_SCRAPES, EXPOSITION_FORMATS.map((f) => [{ ...labels, format: f }, scrapes[f]] as const), format),
        format === 'openmetrics' ? EOF : '',
      ];
      return { contentType: CONTENT_TYPE[format], chunks: [...energy.chunks, ...attributed.chunks, Buffer.from(self.join(''))] };
    },
    stop: () => drainer.stop(),
  };
}
