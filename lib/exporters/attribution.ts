// The attributed energy the three exporters publish, declared once: the metric families,
// which consumers become series (bounded cardinality), and the samples of each. An
// attribution is an estimate (the measured energy split by busy CPU time, see
// docs/attribution.md), and every help text says so.
//
// Series, and why they do not churn:
// - processes: one series per process *name* (comm), the sum of every process of that
//   name, ended ones included, so a restart or a fork adds to the same counter; the top N
//   names by energy over the last minute (N: the `top` option, 10 by default). With
//   processLabels 'pid', one series per process (a `pid` label), which churns with pids:
//   only when asked.
// - cgroups: one series per cgroup path (the cgroupDepth option bounds them), at most
//   MAX_CGROUP_SERIES, the most energy over the last minute first. A cgroup removed and
//   made again at the same path continues its counter.
// - the energy not attributed to any tracked consumer, per view, so that the shown
//   consumers plus the rest plus `unattributed` make the measured energy.
// A series that leaves the top N stops getting samples (its counter is kept and goes on
// where it was if it comes back), so a counter never goes down.
//
// The timestamped exporters get a sample per series at every interval end its consumer
// used CPU in (cgroups: 100 Hz by default, so a 50 ms burst in one container shows as
// that container's), at least one a second otherwise (so rate() sees an idle one as 0),
// folded to one sample per millisecond as Prometheus stores them.
import type { Domain } from '../batch.js';
import type { AttributedIntervals, BatchAttribution, Consumer, ConsumerKind } from '../attribution/types.js';
import type { Labels, MetricInfo } from '../prometheus/metric.js';
import { domainLabels, type ExporterName } from './metrics.js';

export const PROCESS_ENERGY: MetricInfo = {
  name: 'wattmeter_process_energy_joules_total',
  type: 'counter',
  help:
    'Energy attributed to the processes of this name (pid: to this process) by their share of busy CPU time, an estimate, not a measurement; ' +
    'since attribution started. Only the top N by energy over the last minute have samples.',
};

export const CGROUP_ENERGY: MetricInfo = {
  name: 'wattmeter_cgroup_energy_joules_total',
  type: 'counter',
  help: "Energy attributed to this cgroup's own processes (not its tracked children's) by their share of busy CPU time, an estimate, not a measurement; since attribution started.",
};

export const UNATTRIBUTED_ENERGY: MetricInfo = {
  name: 'wattmeter_unattributed_energy_joules_total',
  type: 'counter',
  help:
    'Measured energy not attributed to any tracked consumer of the view (view="process" or "cgroup"): the busy CPU time of what is not tracked, ' +
    'and all of the intervals when no CPU was busy. Consumers of a view plus this make the measured energy.',
};

/** The families, in the order they are written. */
export const ATTRIBUTION_FAMILIES = [PROCESS_ENERGY, CGROUP_ENERGY, UNATTRIBUTED_ENERGY] as const;

/** Every label the attribution families may carry (prom-client wants them declared). */
export const ATTRIBUTION_LABEL_NAMES = ['domain', 'source', 'exporter', 'process', 'pid', 'cgroup', 'name', 'container', 'pod', 'view'];

/** The documented cap on cgroup series. */
export const MAX_CGROUP_SERIES = 200;
/** Processes shown unless asked otherwise (the `top` option's default). */
export const DEFAULT_TOP = 10;
/** The window the top N are ranked over. */
const RANK_WINDOW_MS = 60_000;
/** How often the top N are ranked again. */
const RANK_EVERY_MS = 1000;
/** A shown series gets a sample at least this often, so rate() sees an idle consumer. */
const HEARTBEAT_MS = 1000;

export interface AttributionExportOptions {
  /** Process series shown: the most energy over the last minute (default 10). */
  top?: number;
  /** 'name' (default): one series per process name; 'pid': one per process, with a pid label (churns). */
  processLabels?: 'name' | 'pid';
}

/** One attribution series (over every attributed domain): its labels and running total. */
export interface AttributedSeries {
  readonly info: MetricInfo;
  /** Per attributed domain, the full label set. */
  readonly labels: readonly Labels[];
  /** Per attributed domain, cumulative whole microjoules. */
  readonly energyUj: Float64Array;
  /** Shown now (in the top N or the cgroup cap); unattributed series always are. */
  shown: boolean;
}

/** Samples of one series from one batch: times (integer ms, rising) and joules per domain. */
export interface SeriesSamples {
  readonly series: AttributedSeries;
  readonly timestampsMs: number[];
  readonly energyJ: number[][];
}

class Series implements AttributedSeries {
  readonly info: MetricInfo;
  readonly labels: readonly Labels[];
  readonly energyUj: Float64Array;
  shown = false;
  lastMs = -Infinity; // the last sample's ms
  out: SeriesSamples | undefined; // this batch's samples
  ranked: number[] = []; // rank energy at each ranking in the window

  constructor(info: MetricInfo, labels: Labels[]) {
    this.info = info;
    this.labels = labels;
    this.energyUj = new Float64Array(labels.length);
  }
}

/** One view (processes or cgroups): consumers grouped into series, ranked, sampled. */
class View {
  readonly kind: ConsumerKind;
  readonly limit: number;
  readonly unattributed: Series;
  readonly series = new Map<string, Series>(); // by group key
  readonly ofConsumer: (Series | undefined)[] = [];
  readonly consumerUj: Float64Array[] = []; // per consumer, its last cumulative per domain
  rankTimesMs: number[] = [];
  lastRankMs = -Infinity;

  constructor(kind: ConsumerKind, limit: number, unattributed: Series) {
    this.kind = kind;
    this.limit = limit;
    this.unattributed = unattributed;
  }
}

/**
 * The attribution series of one exporter on one sampler: feed it every batch (ingest);
 * read the series (simple), or the samples each batch made (multirate, remote write).
 */
export class AttributionSeries {
  readonly #allDomains: readonly Domain[];
  readonly #exporter: ExporterName;
  readonly #pidLabels: boolean;
  readonly #top: number;
  readonly #views = new Map<ConsumerKind, View>();
  // The attributed domains, known from the first attributed batch (the sampler's choice).
  #domains: readonly Domain[] = [];
  #rankDomains: number[] = [];

  constructor(domains: readonly Domain[], exporter: ExporterName, options: AttributionExportOptions = {}) {
    this.#allDomains = domains;
    this.#exporter = exporter;
    this.#pidLabels = options.processLabels === 'pid';
    this.#top = options.top ?? DEFAULT_TOP;
  }

  /** The series shown now: per view, its unattributed energy, then its consumers. */
  shown(): AttributedSeries[] {
    const out: AttributedSeries[] = [];
    for (const view of this.#views.values()) {
      out.push(view.unattributed);
      for (const series of view.series.values()) if (series.shown) out.push(series);
    }
    return out;
  }

  /**
   * Takes a batch's attribution (every batch, in order). With `collect`, returns the
   * samples of the series shown, at most one per series and millisecond.
   */
  ingest(attribution: BatchAttribution | undefined, collect = true): SeriesSamples[] {
    if (!attribution) return [];
    const out: SeriesSamples[] = [];
    for (const intervals of [attribution.processes, attribution.cgroups]) {
      if (intervals) this.#ingestView(this.#view(intervals), intervals, attribution.consumers, collect ? out : undefined);
    }
    for (const samples of out) (samples.series as Series).out = undefined;
    return out;
  }

  #view(intervals: AttributedIntervals): View {
    let view = this.#views.get(intervals.kind);
    if (view) return view;
    if (this.#domains.length === 0) {
      this.#domains = intervals.domains.map((d) => this.#allDomains[d]);
      const packages = this.#domains.flatMap((d, i) => (d.name.startsWith('package') ? [i] : []));
      this.#rankDomains = packages.length > 0 ? packages : [0];
    }
    const unattributed = new Series(UNATTRIBUTED_ENERGY, this.#labels({ view: intervals.kind }));
    unattributed.shown = true;
    view = new View(intervals.kind, intervals.kind === 'process' ? this.#top : MAX_CGROUP_SERIES, unattributed);
    this.#views.set(intervals.kind, view);
    return view;
  }

  #labels(extra: Labels): Labels[] {
    return this.#domains.map((d) => ({ ...domainLabels(d, this.#exporter), ...extra }));
  }

  #seriesOf(view: View, consumer: Consumer): Series {
    let series = view.ofConsumer[consumer.index];
    if (series) return series;
    const [key, info, extra] = this.#group(consumer);
    series = view.series.get(key);
    if (!series) view.series.set(key, (series = new Series(info, this.#labels(extra))));
    view.ofConsumer[consumer.index] = series;
    view.consumerUj[consumer.index] = new Float64Array(this.#domains.length);
    return series;
  }

  #group(consumer: Consumer): [string, MetricInfo, Labels] {
    if (consumer.kind === 'process') {
      return this.#pidLabels
        ? [consumer.key, PROCESS_ENERGY, { process: consumer.name, pid: consumer.id }]
        : [consumer.name, PROCESS_ENERGY, { process: consumer.name }];
    }
    const labels: Labels = { cgroup: consumer.id, name: consumer.name };
    if (consumer.container) labels.container = consumer.container.id.slice(0, 12);
    if (consumer.podUid) labels.pod = consumer.podUid;
    return [consumer.id, CGROUP_ENERGY, labels];
  }

  #ingestView(view: View, intervals: AttributedIntervals, consumers: readonly Consumer[], out: SeriesSamples[] | undefined): void {
    const { rows, endMs, unattributedUj } = intervals;
    const domains = this.#domains.length;
    let r = 0;
    for (let i = 0; i < endMs.length; i++) {
      const touched: Series[] = [];
      for (; r < rows.length && rows.interval[r] === i; r++) {
        const consumer = consumers[rows.consumer[r]];
        const series = this.#seriesOf(view, consumer);
        const last = view.consumerUj[consumer.index];
        for (let d = 0; d < domains; d++) {
          const uj = rows.energyUj[d][r];
          series.energyUj[d] += uj - last[d];
          last[d] = uj;
        }
        touched.push(series);
      }
      for (let d = 0; d < domains; d++) view.unattributed.energyUj[d] = unattributedUj[d][i];
      const ms = Math.floor(endMs[i]);
      if (ms - view.lastRankMs >= RANK_EVERY_MS) this.#rank(view, ms);
      if (!out) continue;
      this.#sample(view.unattributed, ms, out);
      for (const series of touched) if (series.shown) this.#sample(series, ms, out);
      for (const series of view.series.values()) if (series.shown && ms - series.lastMs >= HEARTBEAT_MS) this.#sample(series, ms, out);
    }
  }

  #sample(series: Series, ms: number, out: SeriesSamples[]): void {
    const samples = series.out;
    if (ms <= series.lastMs) {
      // A later interval end in the same millisecond: its totals replace the sample.
      if (!samples || samples.timestampsMs.at(-1) !== ms) return;
      series.energyUj.forEach((uj, d) => (samples.energyJ[d][samples.energyJ[d].length - 1] = uj / 1e6));
      return;
    }
    if (!samples) out.push((series.out = { series, timestampsMs: [], energyJ: Array.from(series.energyUj, () => []) }));
    series.out!.timestampsMs.push(ms);
    series.energyUj.forEach((uj, d) => series.out!.energyJ[d].push(uj / 1e6));
    series.lastMs = ms;
  }

  /** Ranks a view's series by energy over the last minute and shows the first `limit`. */
  #rank(view: View, ms: number): void {
    view.lastRankMs = ms;
    view.rankTimesMs.push(ms);
    let drop = 0;
    while (view.rankTimesMs.length - drop > 1 && ms - view.rankTimesMs[drop] > RANK_WINDOW_MS) drop++;
    view.rankTimesMs.splice(0, drop);
    const all = [...view.series.values()];
    const recent = new Map<Series, number>();
    for (const series of all) {
      let now = 0;
      for (const d of this.#rankDomains) now += series.energyUj[d];
      series.ranked.push(now);
      // A series younger than the window counts from zero.
      while (series.ranked.length > view.rankTimesMs.length) series.ranked.shift();
      recent.set(series, now - (series.ranked.length === view.rankTimesMs.length ? series.ranked[0] : 0));
    }
    if (all.length <= view.limit) {
      for (const series of all) series.shown = true;
      return;
    }
    all.sort((a, b) => recent.get(b)! - recent.get(a)!);
    all.forEach((series, i) => (series.shown = i < view.limit));
  }
}
