// The public API of wattmeter. Everything else under lib/ is internal.
/// <reference types="node" preserve="true" />
export {
  openSampler,
  Sampler,
  type SamplerStats,
  type BatchesOptions,
  type BatchListener,
  type SubscribeOptions,
  type HoldOptions,
  type FollowOptions,
} from './sampler.js';
export { listDomains, readOnce, type Discovery, type Reading, type DomainReading } from './domains.js';
export { powerWatts, windowPowerWatts, concatBatches, type Batch, type Domain } from './batch.js';
export type {
  Attribution,
  AttributedIntervals,
  AttributionStats,
  AttributionTotals,
  BatchAttribution,
  Consumer,
  ConsumerKind,
  ConsumerTotal,
  ContainerRuntime,
} from './attribution/types.js';
export {
  optionsFromEnv,
  MIN_RATE_HZ,
  MAX_RATE_HZ,
  ENV,
  type SamplerOptions,
  type SourceOptions,
} from './options.js';
export { WattmeterError } from './errors.js';
export type { SourceKind } from './native.js';
export { startSimpleExporter, type SimpleExporter, type SimpleExporterOptions } from './exporters/simple.js';
export { startMultirateExporter, type MultirateExporterOptions } from './exporters/multirate.js';
export {
  startRemoteWriteExporter,
  RemoteWriteExporter,
  type RemoteWriteOptions,
  type RemoteWriteStats,
  type RemoteWriteAuth,
} from './exporters/remote-write.js';
export { serverOptionsFromEnv, multirateOptionsFromEnv, remoteWriteOptionsFromEnv, EXPORTER_ENV, DEFAULT_PORTS } from './exporters/env.js';
export type { MetricsServer, MetricsServerOptions } from './prometheus/http.js';
export { measure, type MeasureOptions, type Measurement } from './meter/measure.js';
export { EnergyMeter, type EnergyMeterOptions } from './meter/energy-meter.js';
export type { EnergyReport, EnergyTrace, DomainEnergy, PowerTimeline, EnergyHandler } from './meter/report.js';
export { printHandler, csvHandler, jsonLinesHandler, formatReport, reportToJson, type TextSink } from './meter/handlers.js';
export { promClientHandler, type PromClientHandlerOptions } from './meter/prom-client.js';
export { remoteWriteHandler, type RemoteWriteHandler, type RemoteWriteHandlerOptions } from './meter/remote-write.js';
