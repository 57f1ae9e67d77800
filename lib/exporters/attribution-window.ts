// The multirate exporter's window of attributed energy: every sample AttributionSeries
// made in the last windowMs, served to every scrape like the energy's own window
// (multirate.ts), each family under its header and the points of one series together,
// in time order. Lines are rendered once per format, when first scraped in it.
import type { ExpositionFormat } from '../prometheus/accept.js';
import { formatLabels, header, sampleName } from '../prometheus/metric.js';
import { renderLines } from '../prometheus/text.js';
import { ATTRIBUTION_FAMILIES, type AttributedSeries, type SeriesSamples } from './attribution.js';

interface Chunk {
  lastMs: number;
  samples: readonly SeriesSamples[];
  /** Per format, per SeriesSamples, per domain: the lines. */
  lines: Partial<Record<ExpositionFormat, Buffer[][]>>;
}

export class AttributionWindow {
  readonly windowMs: number;
  #chunks: Chunk[] = [];
  #prefixes = new Map<AttributedSeries, Partial<Record<ExpositionFormat, Buffer[]>>>();

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Keeps one batch's samples; forgets what left the window. */
  add(samples: readonly SeriesSamples[], nowMs = Date.now()): void {
    const oldest = nowMs - this.windowMs;
    const kept = this.#chunks.findIndex((c) => c.lastMs >= oldest);
    this.#chunks.splice(0, kept === -1 ? this.#chunks.length : kept);
    if (samples.length === 0) return;
    const lastMs = Math.max(...samples.map((s) => s.timestampsMs.at(-1)!));
    this.#chunks.push({ lastMs, samples, lines: {} });
  }

  /** The attributed families of a scrape in a format, and how many samples they hold. */
  scrape(nowMs: number, format: ExpositionFormat): { chunks: Buffer[]; samples: number } {
    const live = this.#chunks.filter((c) => c.lastMs >= nowMs - this.windowMs);
    // Per series, its lines from every chunk, in chunk (so time) order.
    const bySeries = new Map<AttributedSeries, Buffer[][]>();
    let samples = 0;
    for (const chunk of live) {
      const lines = (chunk.lines[format] ??= chunk.samples.map((s) => this.#render(s, format)));
      chunk.samples.forEach((s, i) => {
        let all = bySeries.get(s.series);
        if (!all) bySeries.set(s.series, (all = s.series.labels.map(() => [])));
        lines[i].forEach((buffer, d) => all[d].push(buffer));
        samples += s.timestampsMs.length * s.series.labels.length;
      });
    }
    const chunks: Buffer[] = [];
    for (const info of ATTRIBUTION_FAMILIES) {
      const members = [...bySeries].filter(([series]) => series.info === info);
      if (members.length === 0) continue;
      chunks.push(Buffer.from(header(info, format)));
      for (const [, perDomain] of members) for (const lines of perDomain) chunks.push(...lines);
    }
    // Series no chunk holds any more need no prefixes.
    for (const series of this.#prefixes.keys()) if (!bySeries.has(series)) this.#prefixes.delete(series);
    return { chunks, samples };
  }

  #render(s: SeriesSamples, format: ExpositionFormat): Buffer[] {
    let prefixes = this.#prefixes.get(s.series);
    if (!prefixes) this.#prefixes.set(s.series, (prefixes = {}));
    const prefix = (prefixes[format] ??= s.series.labels.map((l) => Buffer.from(`${sampleName(s.series.info, format)}${formatLabels(l)} `)));
    const timestampsMs = Float64Array.from(s.timestampsMs);
    return renderLines(prefix.map((p, d) => ({ prefix: p, values: Float64Array.from(s.energyJ[d]) })), timestampsMs, format);
  }
}
