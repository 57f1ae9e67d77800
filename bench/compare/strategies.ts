// The three strategies under comparison, each run as its own exporter process
// (`wattmeter export <name>`, configured by the environment as an operator runs it), so
// that its CPU time and memory are its own process's.
import path from 'node:path';
import { cleanEnv, startServer, type Server } from '../../fixtures/servers.js';
import { ROOT } from './paths.js';
import type { ScrapeTargets } from '../../fixtures/stack-prometheus.js';
import type { StrategyName } from '../../fixtures/compare-report.js';

export interface Strategy {
  /** The value of the `exporter` label. */
  name: StrategyName;
  /** `wattmeter export <exporter>` */
  exporter: string;
  /** Scraped by Prometheus (true) or pushing to it (false). */
  pull: boolean;
  /**
   * The span of ticks a stored power sample stands for, ending at its timestamp. Simple:
   * the last 1 s before the scrape (see POWER in lib/exporters/metrics.ts); the others:
   * since the previous sample of the series.
   */
  powerWindowMs(previousMs: number, ms: number): number;
  /**
   * How far apart its stored samples are when nothing goes wrong: one per scrape for
   * simple; one per tick for the others, at most one per millisecond (Prometheus's limit).
   */
  spacingMs(rateHz: number, intervalS: number): number;
}

const perTick = (rateHz: number) => Math.max(1, 1000 / rateHz);

export const STRATEGIES: readonly Strategy[] = [
  { name: 'simple', exporter: 'simple', pull: true, powerWindowMs: () => 1000, spacingMs: (_, intervalS) => 1000 * intervalS },
  { name: 'multirate', exporter: 'multirate', pull: true, powerWindowMs: (previous, ms) => ms - previous, spacingMs: perTick },
  { name: 'remote_write', exporter: 'remote-write', pull: false, powerWindowMs: (previous, ms) => ms - previous, spacingMs: perTick },
];

/** write-config.sh's targets for a Prometheus that serves this strategy alone. */
export function scrapeTargets(strategy: Strategy, address: string): ScrapeTargets {
  return {
    simple: strategy.name === 'simple' ? [address] : [],
    multirate: strategy.name === 'multirate' ? [address] : [],
  };
}

export interface ExporterSettings {
  rateHz: number;
  /** Remote write's push interval, the pull strategies' scrape interval. */
  intervalS: number;
  /** The multirate exporter's window. */
  multirateWindowS: number;
  /** Where a pull exporter serves /metrics (the port its relay forwards to). */
  port: number;
  /** The fake powercap tree, or undefined for the machine's own counters. */
  sysfsRoot: string | undefined;
  /** Remote write: where to push; also the URL that says "ready" for it (it serves nothing). */
  writeUrl: string;
  readyUrl: string;
}

export interface RunningExporter {
  server: Server;
}

/** Starts one exporter process and waits until it serves (or, for remote write, until its receiver is up). */
export async function startExporter(strategy: Strategy, settings: ExporterSettings): Promise<RunningExporter> {
  const { port } = settings;
  const env: NodeJS.ProcessEnv = {
    WATTMETER_RATE_HZ: String(settings.rateHz),
    ...(settings.sysfsRoot ? { WATTMETER_SOURCE: 'powercap', WATTMETER_SYSFS_ROOT: settings.sysfsRoot } : {}),
    ...(strategy.exporter === 'multirate' ? { WATTMETER_MULTIRATE_WINDOW_MS: String(settings.multirateWindowS * 1000) } : {}),
    ...(strategy.pull
      ? { WATTMETER_HOST: '127.0.0.1', WATTMETER_PORT: String(port) }
      : {
          WATTMETER_REMOTE_WRITE_URL: settings.writeUrl,
          WATTMETER_PUSH_INTERVAL_MS: String(settings.intervalS * 1000),
          WATTMETER_JOB: 'wattmeter-remote-write',
          WATTMETER_INSTANCE: 'compare',
        }),
  };
  const readyUrl = strategy.pull ? `http://127.0.0.1:${port}/metrics` : settings.readyUrl;
  const cli = path.join(ROOT, 'dist/lib/cli.js');
  const server = await startServer(process.execPath, [cli, 'export', strategy.exporter], readyUrl, { env: cleanEnv(env) });
  return { server };
}
