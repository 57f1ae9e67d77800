// One cell of the matrix: one sampling rate and one scrape/push interval. The three
// strategies run side by side on the same target, each exporter in its own process and
// with its own Prometheus (so Prometheus's cost is per strategy too), each link through a
// byte-counting relay. The phases, in order:
//   start -> data arrives -> steady span (cost, resolution, accuracy; no queries then)
//   -> a 50 ms burst -> latency polling -> Prometheus down for outageS and restarted
//   -> everything read back from Prometheus -> stop.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../fixtures/servers.js';
import { readBurst } from './burst.js';
import { percentile, pollLatency } from './latency.js';
import { DOMAIN, type Target } from './machine.js';
import { cpuSeconds, peakRssBytes } from './proc.js';
import type { Progress } from './progress.js';
import { StackPrometheus, type Point } from '../../fixtures/stack-prometheus.js';
import type { BurstTruth, CellResult, StrategyResult } from '../../fixtures/compare-report.js';
import { STRATEGIES, scrapeTargets, startExporter, type RunningExporter, type Strategy } from './strategies.js';
import { WireMeter } from './wire.js';

export interface CellPlan {
  rateHz: number;
  intervalS: number;
  steadyS: number;
  latencyS: number;
  outageS: number;
  /** The multirate exporter's window (WATTMETER_MULTIRATE_WINDOW_MS). */
  multirateWindowS: number;
}

const BURST_EXTRA_W = 100;
const BURST_MS = 50;
const MiB = 1024 * 1024;

/** One strategy's running pieces. */
interface Lane {
  strategy: Strategy;
  prometheus: StackPrometheus;
  wire: WireMeter;
  exporter?: RunningExporter;
}

/** What is read at the two ends of the steady span. */
interface Snapshot {
  ms: number;
  exporterCpuS: number;
  prometheus: Map<string, number>;
  wireBytes: number;
}

const power = (s: Strategy) => `wattmeter_power_watts{exporter="${s.name}",domain="${DOMAIN}"}`;
const energy = (s: Strategy) => `wattmeter_energy_joules_total{exporter="${s.name}",domain="${DOMAIN}"}`;

export async function runCell(plan: CellPlan, target: Target, progress: Progress): Promise<CellResult> {
  progress.say('starting Prometheus x3 and the exporters');
  const lanes = await Promise.all(STRATEGIES.map((strategy) => openLane(strategy, plan.intervalS)));
  try {
    await Promise.all(lanes.map((lane) => lane.prometheus.start()));
    await Promise.all(
      lanes.map(async (lane) => {
        lane.exporter = await startExporter(lane.strategy, {
          rateHz: plan.rateHz,
          intervalS: plan.intervalS,
          multirateWindowS: plan.multirateWindowS,
          sysfsRoot: target.sysfsRoot,
          port: lane.wire.upstreamPort,
          writeUrl: `http://127.0.0.1:${lane.wire.port}/api/v1/write`,
          readyUrl: `${lane.prometheus.url}/-/ready`,
        });
      }),
    );
    progress.say('waiting for the first samples');
    await Promise.all(lanes.map((lane) => until(lane, 0)));
    await progress.wait('settling', plan.intervalS);

    const first = await Promise.all(lanes.map(snapshot));
    await progress.wait('steady span', plan.steadyS);
    const last = await Promise.all(lanes.map(snapshot));
    const diskBytes = lanes.map((lane) => lane.prometheus.dataDirBytes());

    let burst: (BurstTruth & { onMs: number; offMs: number }) | null = null;
    if (target.burst) {
      progress.say('50 ms burst');
      burst = await target.burst(BURST_EXTRA_W, BURST_MS);
      // Until the burst is stored by all: one interval, and the exporters' 100 ms drain.
      await progress.wait('storing the burst', plan.intervalS + 1.5);
    }

    progress.say(`polling for latency (${plan.latencyS} s)`);
    const latencies = await Promise.all(lanes.map((lane) => pollLatency(lane.prometheus, energy(lane.strategy), plan.latencyS * 1000)));

    progress.say(`Prometheus down for ${plan.outageS} s`);
    await Promise.all(lanes.map((lane) => lane.prometheus.stop()));
    const downMs = Date.now();
    await progress.wait(`Prometheus down`, plan.outageS);
    await Promise.all(lanes.map((lane) => lane.prometheus.start()));
    const upMs = Date.now();
    // Until what each strategy can still deliver has arrived. Both remote write's queue
    // and multirate's window deliver oldest first, so a sample newer than the restart
    // means the outage's samples came before it, if they came at all.
    progress.say('recovering');
    await Promise.all(lanes.map((lane) => until(lane, upMs)));
    await progress.wait('recovering', 1);

    progress.say('reading the results from Prometheus');
    const results: StrategyResult[] = [];
    for (const [i, lane] of lanes.entries()) {
      const span = { first: first[i]!, last: last[i]!, diskBytes: diskBytes[i]! };
      results.push(await readLane(lane, plan, span, burst, target.truthW, latencies[i]!, { downMs, upMs }));
    }
    const truth: BurstTruth | null = burst && { extraW: burst.extraW, durationMs: burst.durationMs, injectedJ: burst.injectedJ };
    return { ...plan, truthW: target.truthW, burst: truth, strategies: results };
  } finally {
    await Promise.all(lanes.map(closeLane));
  }
}

async function openLane(strategy: Strategy, intervalS: number): Promise<Lane> {
  if (strategy.pull) {
    // Prometheus -> relay -> exporter.
    const wire = await WireMeter.start(await freePort());
    const prometheus = await StackPrometheus.create(scrapeTargets(strategy, `127.0.0.1:${wire.port}`), intervalS);
    return { strategy, prometheus, wire };
  }
  // Exporter -> relay -> Prometheus.
  const prometheus = await StackPrometheus.create(scrapeTargets(strategy, ''), intervalS);
  return { strategy, prometheus, wire: await WireMeter.start(prometheus.port) };
}

async function closeLane(lane: Lane): Promise<void> {
  await lane.exporter?.server.stop();
  await lane.prometheus.remove();
  await lane.wire.close();
}

/** Waits until Prometheus holds a power sample newer than sinceMs. */
async function until(lane: Lane, sinceMs: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const expr = `timestamp(${power(lane.strategy)}) > ${sinceMs / 1000}`;
  while ((await lane.prometheus.query(expr)).length === 0) {
    if (Date.now() > deadline) {
      throw new Error(`${lane.strategy.name}: no data after ${timeoutMs} ms\n${lane.exporter?.server.output()}\n${lane.prometheus.output()}`);
    }
    await sleep(200);
  }
}

async function snapshot(lane: Lane): Promise<Snapshot> {
  return {
    ms: Date.now(),
    exporterCpuS: cpuSeconds(lane.exporter!.server.child.pid!),
    prometheus: await lane.prometheus.ownMetrics(),
    wireBytes: lane.wire.bytes,
  };
}

async function readLane(
  lane: Lane,
  plan: CellPlan,
  { first, last, diskBytes }: { first: Snapshot; last: Snapshot; diskBytes: number },
  burst: { onMs: number; offMs: number } | null,
  truthW: number | null,
  latencies: number[],
  outage: { downMs: number; upMs: number },
): Promise<StrategyResult> {
  const { strategy, prometheus } = lane;
  const spanMs = last.ms - first.ms;
  const spanS = spanMs / 1000;
  const range = `[${spanMs}ms]`;

  const stored = await prometheus.points(power(strategy), first.ms, last.ms);
  const ticks = await prometheus.points(`wattmeter_sampler_ticks_total{exporter="${strategy.name}"}`, first.ms, last.ms);
  const dropped = await prometheus.points(`wattmeter_sampler_dropped_ticks_total{exporter="${strategy.name}"}`, first.ms, last.ms);
  const shared = await prometheus.points(`wattmeter_sampler_ticks_sharing_millisecond_total{exporter="${strategy.name}"}`, first.ms, last.ms);
  const storedPerS = perSecond(stored.map(([ms], i) => [ms, i]));
  const sampledPerS = perSecond(ticks);

  const own = (name: string) => (last.prometheus.get(name) ?? NaN) - (first.prometheus.get(name) ?? NaN);
  const appended = last.prometheus.get('prometheus_tsdb_head_samples_appended_total') ?? NaN;

  let burstReading = null;
  if (burst && truthW !== null) {
    // One sample on each side at least: an interval and a bit (simple's window is 1 s).
    const marginMs = 1000 * plan.intervalS + 1500;
    const from = burst.onMs - marginMs;
    const to = burst.offMs + marginMs;
    const [p, e] = await Promise.all([prometheus.points(power(strategy), from, to), prometheus.points(energy(strategy), from, to)]);
    burstReading = readBurst(strategy, p, e, { ...burst, baseW: truthW });
  }

  // What the outage cost: the longest hole in the stored series from the end of the steady
  // span (so that samples a stop lost from before it count too) to the first samples after
  // the restart, beyond the strategy's configured spacing. (Not the spacing measured in
  // the steady span: on a loaded machine failed scrapes widen it and hide the loss. Nor
  // the samples stored during the outage against the steady rate: the sampler itself
  // ticks less while three Prometheus servers replay their WAL.)
  const outageStored = (await prometheus.points(power(strategy), outage.downMs, outage.upMs)).length;
  const acrossOutage = await prometheus.points(power(strategy), last.ms, Date.now());
  const outageMaxGapMs = maxGap(acrossOutage);
  // Scrapes that failed (up == 0) in the steady span, such as a scrape over its timeout.
  const up = strategy.pull ? `up{job="wattmeter-${strategy.name}"}${range}` : undefined;
  const failedScrapes = up ? await prometheus.scalar(`count_over_time(${up}) - sum_over_time(${up})`, last.ms) : null;

  const pid = lane.exporter!.server.child.pid!;
  return {
    strategy: strategy.name,
    sampledPerS,
    storedPerS,
    // Two rates estimated over the same span: a ratio a hair over 1 is noise, not extra samples.
    completeness: Math.min(1, storedPerS / sampledPerS),
    droppedPerS: perSecond(dropped),
    sharedTicks: shared.length < 2 ? NaN : shared.at(-1)![1] - shared[0]![1],
    maxGapMs: maxGap(stored),
    meanPowerW: await prometheus.scalar(`avg_over_time(${power(strategy)}${range})`, last.ms),
    ratePowerW: await prometheus.scalar(`rate(${energy(strategy)}${range})`, last.ms),
    burst: burstReading,
    exporterCpuPct: ((last.exporterCpuS - first.exporterCpuS) / spanS) * 100,
    exporterPeakMiB: peakRssBytes(pid) / MiB,
    prometheusCpuPct: (own('process_cpu_seconds_total') / spanS) * 100,
    prometheusRssMiB: (last.prometheus.get('process_resident_memory_bytes') ?? NaN) / MiB,
    diskBytesPerSample: diskBytes / appended,
    wireBytesPerSample: (last.wireBytes - first.wireBytes) / own('prometheus_tsdb_head_samples_appended_total'),
    latencyP50Ms: percentile(latencies, 50),
    latencyMaxMs: percentile(latencies, 100),
    latencySamples: latencies.length,
    failedScrapes,
    outageStored,
    outageMaxGapMs,
    outageLostS: Math.max(0, outageMaxGapMs - strategy.spacingMs(plan.rateHz, plan.intervalS)) / 1000,
  };
}

/** The mean increase per second between the first and the last point (NaN with fewer than two). */
function perSecond(points: Point[]): number {
  if (points.length < 2) return NaN;
  const [[t0, v0], [t1, v1]] = [points[0]!, points.at(-1)!];
  return ((v1 - v0) * 1000) / (t1 - t0);
}

/** The longest time between two consecutive points, ms (NaN with fewer than two). */
function maxGap(points: Point[]): number {
  let gap = NaN;
  for (let i = 1; i < points.length; i++) gap = Math.max(Number.isNaN(gap) ? 0 : gap, points[i]![0] - points[i - 1]![0]);
  return gap;
}
