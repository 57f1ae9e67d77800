// The simple exporter: a prom-client registry, one value per series per scrape, stamped by
// Prometheus with the scrape time. Each drain writes a fresh snapshot into the registry;
// a scrape serves the text rendered from the latest snapshot (rendered once per drain at
// most, however many scrapers ask), so a scrape costs no file I/O and no sampler call.
import { Counter, Gauge, Registry } from 'prom-client';
import { concatBatches, windowPowerWatts, type Batch } from '../batch.js';
import type { Sampler, SamplerStats } from '../sampler.js';
import { serveMetrics, type MetricsServer, type MetricsServerOptions } from '../prometheus/http.js';
import type { MetricInfo } from '../prometheus/metric.js';
import { follow } from './follow.js';
import { ENERGY, POWER, SAMPLER_METRICS, domainLabels } from './metrics.js';

export interface SimpleExporterOptions extends MetricsServerOptions {
  sampler: Sampler;
  /** How often to drain the sampler, in ms (default 100): the age of a scrape's value at most. */
  drainIntervalMs?: number;
}

export interface SimpleExporter extends MetricsServer {
  readonly registry: Registry;
}

const EXPORTER = 'simple';
const POWER_WINDOW_MS = 1000;

/** Starts the sampler (if needed), drains it on a timer and serves /metrics. */
export async function startSimpleExporter(options: SimpleExporterOptions): Promise<SimpleExporter> {
  const { sampler } = options;
  const registry = new Registry();
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
  const labels = sampler.domains.map((domain) => domainLabels(domain, EXPORTER));

  let baseUj: number[] | undefined; // the first tick: zero of the energy counters
  let recent: Batch | undefined; // the last POWER_WINDOW_MS of ticks, for power
  let rendered: Promise<Buffer> | undefined;

  const snapshot = (batch: Batch) => {
    baseUj ??= batch.energyUj.map((column) => column[0]);
    recent = lastWindow(recent ? concatBatches([recent, batch]) : batch, POWER_WINDOW_MS);
    const stats = sampler.stats();
    registry.resetMetrics();
    const last = recent.length - 1;
    const watts = windowPowerWatts(recent, POWER_WINDOW_MS);
    labels.forEach((l, d) => {
      energy.inc(l, (recent!.energyUj[d][last] - baseUj![d]) / 1e6);
      if (!Number.isNaN(watts[d])) power.set(l, watts[d]);
    });
    for (const write of samplerMetrics) write(stats);
    rendered = undefined;
  };

  const drainer = follow(sampler, options.drainIntervalMs ?? 100, snapshot);
  const server = await serveMetrics(options, async () => {
    rendered ??= registry.metrics().then((text) => Buffer.from(text));
    return { contentType: registry.contentType, chunks: [await rendered] };
  }).catch((error) => {
    drainer.stop();
    throw error;
  });
  return {
    registry,
    url: server.url,
    port: server.port,
    async close() {
      drainer.stop();
      await server.close();
    },
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
