// The simple exporter: a prom-client registry, one value per series per scrape, stamped by
// Prometheus with the scrape time. The ticks delivered are written into the registry as a
// snapshot at most once per drain interval, and by a scrape that finds newer ticks; a
// scrape serves the text rendered from the latest snapshot (rendered once per snapshot,
// however many scrapers ask), so a scrape never reads a counter's file.
//
// In the format the scraper asks for (lib/prometheus/accept.ts): OpenMetrics 1.0 or the
// text format 0.0.4. A prom-client registry renders one format, and rendering OpenMetrics
// renames its counters for good (`_total` stripped from the metric object), so each
// format has its own registry, both built from the same definitions and written the
// same snapshot.
import { Counter, Gauge, Registry, type RegistryContentType } from 'prom-client';
import { concatBatches, windowPowerWatts, type Batch } from '../batch.js';
import type { Sampler, SamplerStats } from '../sampler.js';
import { EXPOSITION_FORMATS, type ExpositionFormat } from '../prometheus/accept.js';
import { serveMetrics, type MetricsServer, type MetricsServerOptions } from '../prometheus/http.js';
import type { Labels, MetricInfo } from '../prometheus/metric.js';
import { ATTRIBUTION_FAMILIES, ATTRIBUTION_LABEL_NAMES, AttributionSeries, type AttributionExportOptions } from './attribution.js';
import { follow, type ExporterMetrics } from './follow.js';
import { ENERGY, POWER, SAMPLER_METRICS, domainLabels, toMicro } from './metrics.js';

export interface SimpleExporterOptions extends MetricsServerOptions {
  sampler: Sampler;
  /** How often to drain the sampler, in ms (default 100): the age of a scrape's value at most. */
  drainIntervalMs?: number;
  /** Which processes and cgroups get series, when the sampler attributes (see attribution.ts). */
  attribution?: AttributionExportOptions;
}

export interface SimpleExporter extends MetricsServer {
  /** The text-format registry (an identical one renders OpenMetrics). */
  readonly registry: Registry<RegistryContentType>;
}

const EXPORTER = 'simple';
const POWER_WINDOW_MS = 1000;

/** One snapshot's values, written into every format's registry. */
interface Snapshot {
  /** Per domain: joules since the first tick, and mean watts over the last second (NaN: none yet). */
  energyJ: number[];
  watts: number[];
  stats: SamplerStats;
  /** The attribution series shown: family, labels per domain, joules per domain. */
  attributed: { info: MetricInfo; labels: readonly Labels[]; energyJ: number[] }[];
}

/** The exporter's metrics in a registry of one format, and how a snapshot is written there. */
function instruments(format: ExpositionFormat, labels: readonly Labels[], attributes: boolean): { registry: Registry<RegistryContentType>; write(snapshot: Snapshot): void } {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(format === 'openmetrics' ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
  const config = (info: MetricInfo, labelNames: string[]) => ({ name: info.name, help: info.help, labelNames, registers: [registry] });
  const domainLabelNames = ['domain', 'source', 'exporter'];
  const energy = new Counter(config(ENERGY, domainLabelNames));
  const power = new Gauge(config(POWER, domainLabelNames));
  const exporterLabel = { exporter: EXPORTER };
  // prom-client counters only move up by increments: after a reset, inc writes the total.
  const samplerMetrics = SAMPLER_METRICS.map((info) => {
    if (info.type === 'counter') {
      const counter = new Counter(config(info, ['exporter']));
      return (stats: SamplerStats) => counter.inc(exporterLabel, info.value(stats));
    }
    const gauge = new Gauge(config(info, ['exporter']));
    return (stats: SamplerStats) => gauge.set(exporterLabel, info.value(stats));
  });
  const attributed = new Map((attributes ? ATTRIBUTION_FAMILIES : []).map((info) => [info, new Counter(config(info, ATTRIBUTION_LABEL_NAMES))]));
  return {
    registry,
    write({ energyJ, watts, stats, attributed: series }) {
      registry.resetMetrics();
      labels.forEach((l, d) => {
        energy.inc(l, toMicro(energyJ[d]));
        if (!Number.isNaN(watts[d])) power.set(l, toMicro(watts[d]));
      });
      for (const { info, labels: byDomain, energyJ: joules } of series) byDomain.forEach((l, d) => attributed.get(info)!.inc(l, joules[d]));
      for (const write of samplerMetrics) write(stats);
    },
  };
}

/** Starts the sampler (if needed), drains it on a timer and serves /metrics. */
export async function startSimpleExporter(options: SimpleExporterOptions): Promise<SimpleExporter> {
  const { registry, render, stop } = simpleMetrics(options.sampler, options);
  const server = await serveMetrics(options, render).catch((error) => {
    stop();
    throw error;
  });
  return {
    registry,
    url: server.url,
    port: server.port,
    async close() {
      stop();
      await server.close();
    },
  };
}

/** Follows the sampler into the registries; render() is a scrape of them. */
export function simpleMetrics(
  sampler: Sampler,
  options: Pick<SimpleExporterOptions, 'drainIntervalMs' | 'attribution'> = {},
): ExporterMetrics & { registry: Registry<RegistryContentType> } {
  const labels = sampler.domains.map((domain) => domainLabels(domain, EXPORTER));
  const attributes = sampler.attribution !== undefined;
  const registries = { text: instruments('text', labels, attributes), openmetrics: instruments('openmetrics', labels, attributes) };
  const attribution = new AttributionSeries(sampler.domains, EXPORTER, options.attribution);

  let baseUj: number[] | undefined; // the first tick: zero of the energy counters
  let recent: Batch | undefined; // the last POWER_WINDOW_MS of ticks, for power
  let rendered: Partial<Record<ExpositionFormat, Promise<Buffer>>> = {};

  // Ticks can arrive every millisecond (a measure() waiting on the same sampler drains
  // that often): they are kept as they come, and folded into the registries at most once
  // per drain interval, or at a scrape that finds them newer than the registries.
  const intervalMs = options.drainIntervalMs ?? 100;
  let pending: Batch[] = [];
  let writtenMs = -Infinity;
  const collect = (batch: Batch) => {
    attribution.ingest(batch.attribution, false);
    pending.push(batch);
    if (performance.now() - writtenMs >= intervalMs) snapshot();
  };
  const snapshot = () => {
    if (pending.length === 0) return;
    const batch = concatBatches(pending);
    pending = [];
    writtenMs = performance.now();
    baseUj ??= batch.energyUj.map((column) => column[0]);
    recent = lastWindow(recent ? concatBatches([recent, batch]) : batch, POWER_WINDOW_MS);
    const last = recent.length - 1;
    const values: Snapshot = {
      energyJ: recent.energyUj.map((column, d) => (column[last] - baseUj![d]) / 1e6),
      watts: windowPowerWatts(recent, POWER_WINDOW_MS),
      stats: sampler.stats(),
      attributed: attribution.shown().map(({ info, labels, energyUj }) => ({ info, labels, energyJ: Array.from(energyUj, (uj) => uj / 1e6) })),
    };
    for (const format of EXPOSITION_FORMATS) registries[format].write(values);
    rendered = {};
  };

  const drainer = follow(sampler, intervalMs, collect);
  return {
    registry: registries.text.registry,
    async render(format) {
      snapshot();
      const { registry } = registries[format];
      const text = (rendered[format] ??= registry.metrics().then((t) => Buffer.from(t)));
      return { contentType: registry.contentType, chunks: [await text] };
    },
    stop: () => drainer.stop(),
  };
}

/** The ticks of the last windowMs of a batch (views, no copy). */
function lastWindow(batch: Batch, windowMs: number): Batch {
  const end = batch.timestampsMs[batch.length - 1];
  let from = batch.length - 1;
  while (from > 0 && end - batch.timestampsMs[from - 1] <= windowMs) from--;
  return {
    domains: batch.domains,
    timestampsMs: batch.timestampsMs.subarray(from),
    energyUj: batch.energyUj.map((column) => column.subarray(from)),
    length: batch.length - from,
  };
}
