// The sampler's statistics, each field declared once in STATS_FIELDS: what the addon
// returns (NativeStats), what Sampler.stats() returns (SamplerStats), and the metrics the
// exporters publish of it (SAMPLER_METRICS in exporters/metrics.ts is derived from them).
// test/native-boundary.test.ts checks the addon's keys against this list.

export interface Lateness {
  p50: number;
  p99: number;
  max: number;
}

/** What each `type` of a field is in TypeScript. */
interface StatsTypes {
  boolean: boolean;
  number: number;
  lateness: Lateness;
  numbers: number[];
  perDomain: Record<string, number>;
  strings: string[];
}

/** A metric an exporter publishes of a field (a Prometheus MetricInfo and how to read it). */
export interface StatsMetric {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** The part of an object-valued field this metric shows. */
  part?: keyof Lateness;
  /** The field's unit per the metric's unit (microseconds per second: 1e6). */
  divideBy?: number;
}

interface StatsFieldSpec {
  type: keyof StatsTypes;
  /**
   * native: returned by the addon and by Sampler.stats() alike; addon: returned by the addon
   * only (turned into another field); derived: computed by samplerStats().
   */
  from: 'native' | 'addon' | 'derived';
  metrics?: readonly StatsMetric[];
}

export const STATS_FIELDS = {
  /** Whether the sampler thread is running. */
  running: { type: 'boolean', from: 'native' },
  /** The configured ticks per second. */
  rateHz: {
    type: 'number', from: 'derived',
    metrics: [{ name: 'wattmeter_sampler_rate_hertz', type: 'gauge', help: 'Configured sampling rate.' }],
  },
  /** Ticks per second actually recorded while running. */
  achievedRateHz: { type: 'number', from: 'derived' },
  /** Ticks recorded (pushed or dropped). */
  ticks: {
    type: 'number', from: 'native',
    metrics: [{ name: 'wattmeter_sampler_ticks_total', type: 'counter', help: 'Ticks the sampler thread recorded.' }],
  },
  /** Ticks lost because the ring was full. */
  dropped: {
    type: 'number', from: 'native',
    metrics: [{ name: 'wattmeter_sampler_dropped_ticks_total', type: 'counter', help: 'Ticks lost because the ring buffer was full (drained too late).' }],
  },
  /** Deadlines missed entirely (the thread woke more than one period late, or was stopped while late): with ticks, every deadline up to the stop. */
  overruns: {
    type: 'number', from: 'native',
    metrics: [{ name: 'wattmeter_sampler_overruns_total', type: 'counter', help: 'Sampling deadlines missed entirely (the thread woke more than one period late, or was stopped while late).' }],
  },
  /** Failed counter reads. */
  readErrors: {
    type: 'number', from: 'native',
    metrics: [{ name: 'wattmeter_sampler_read_errors_total', type: 'counter', help: 'Failed counter reads.' }],
  },
  /**
   * Ticks whose timestamp fell in the same millisecond as the tick before: the timestamped
   * exporters (multirate, remote write) fold them into one sample. Every tick but one per
   * millisecond above 1 kHz; at 1 kHz and below, none unless the thread woke late.
   */
  ticksSharingMs: {
    type: 'number', from: 'native',
    metrics: [{ name: 'wattmeter_sampler_ticks_sharing_millisecond_total', type: 'counter', help: 'Ticks in the same millisecond as the tick before (folded into one sample by timestamped exporters).' }],
  },
  /** Seconds the thread has been sampling (sum over start/stop periods). */
  elapsedS: { type: 'number', from: 'native' },
  /** How late the thread woke behind its deadlines, in microseconds. */
  latenessUs: {
    type: 'lateness', from: 'native',
    metrics: [
      { name: 'wattmeter_sampler_lateness_p50_seconds', type: 'gauge', help: 'Median lateness of the sampler thread behind its deadlines.', part: 'p50', divideBy: 1e6 },
      { name: 'wattmeter_sampler_lateness_p99_seconds', type: 'gauge', help: '99th percentile lateness of the sampler thread behind its deadlines.', part: 'p99', divideBy: 1e6 },
      { name: 'wattmeter_sampler_lateness_max_seconds', type: 'gauge', help: 'Largest lateness of the sampler thread behind its deadlines.', part: 'max', divideBy: 1e6 },
    ],
  },
  /** Per domain: ticks whose value differed from the previous tick. */
  changes: { type: 'numbers', from: 'addon' },
  /** Per domain: how often its value actually changed, per second (RAPL: about 1000). */
  effectiveResolutionHz: { type: 'perDomain', from: 'derived' },
  /** SCHED_FIFO actually in effect. */
  realtime: { type: 'boolean', from: 'native' },
  /** The sampler thread's scheduling settings in force (timer slack, EEVDF slice, SCHED_FIFO). */
  settings: { type: 'strings', from: 'native' },
  /** Settings asked for and not in force, and why; e.g. why realtime scheduling was refused. */
  notes: { type: 'strings', from: 'native' },
} as const satisfies Record<string, StatsFieldSpec>;

type Fields = typeof STATS_FIELDS;
type From = Fields[keyof Fields]['from'];
type FieldsFrom<F extends From> = {
  -readonly [K in keyof Fields as Fields[K]['from'] extends F ? K : never]: StatsTypes[Fields[K]['type']];
};

/** What the addon's stats() returns. */
export interface NativeStats extends FieldsFrom<'native' | 'addon'> {}

/** What Sampler.stats() returns, in user units. */
export interface SamplerStats extends FieldsFrom<'native' | 'derived'> {}

type DerivedKey = { [K in keyof Fields]: Fields[K]['from'] extends 'derived' ? K : never }[keyof Fields];

const fieldsFrom = (...from: From[]) =>
  Object.entries(STATS_FIELDS).filter(([, spec]) => from.includes(spec.from)).map(([key]) => key);

/** The keys of NativeStats, in order: what the addon's STATS_KEYS must list. */
export const NATIVE_STATS_KEYS: readonly string[] = fieldsFrom('native', 'addon');
const SAMPLER_STATS_KEYS = fieldsFrom('native', 'derived') as (keyof SamplerStats)[];

/** Sampler.stats() from the addon's stats(), for a sampler at rateHz over these domains. */
export function samplerStats(native: NativeStats, rateHz: number, domains: readonly { name: string }[]): SamplerStats {
  const perSecond = (n: number) => (native.elapsedS > 0 ? n / native.elapsedS : 0);
  const derived: Pick<SamplerStats, DerivedKey> = {
    rateHz,
    achievedRateHz: perSecond(native.ticks),
    effectiveResolutionHz: Object.fromEntries(domains.map((d, i) => [d.name, perSecond(native.changes[i])])),
  };
  const values: Record<string, unknown> = { ...native, ...derived };
  return Object.fromEntries(SAMPLER_STATS_KEYS.map((key) => [key, values[key]])) as unknown as SamplerStats;
}
