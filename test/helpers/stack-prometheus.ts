// Prometheus as the shipped stack starts it: Debian's (or the one on PATH) through
// prometheus/entrypoint.sh, on the configuration prometheus/write-config.sh writes, with
// the container's paths moved to a temporary directory and the scrape targets to
// loopback. Lifecycle and queries come from the exporter tests' harness (Store); this adds
// what the strategy comparison (bench/compare) reads: raw samples, Prometheus's own
// metrics and the size of its data directory.
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from './prometheus.js';
import { freePort } from './servers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)); // dist/test/helpers -> repository

export interface ScrapeTargets {
  /** host:port lists for write-config.sh; empty for none. */
  simple: string[];
  multirate: string[];
}

/** A raw stored sample: time in ms since the epoch, value. */
export type Point = [number, number];

export class StackPrometheus extends Store {
  #targets: ScrapeTargets;
  #intervalS: number;

  private constructor(dir: string, port: number, targets: ScrapeTargets, intervalS: number) {
    super(dir, port);
    this.#targets = targets;
    this.#intervalS = intervalS;
  }

  /** Prepared, not started: its port is known, to point a relay at it before it starts. */
  static async create(targets: ScrapeTargets, intervalS: number): Promise<StackPrometheus> {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-stack-'));
    return new StackPrometheus(dir, await freePort(), targets, intervalS);
  }

  protected command() {
    const settings = {
      PROMETHEUS_BIN: 'prometheus',
      PROMETHEUS_CONFIG_FILE: path.join(this.dir, 'prometheus.yml'),
      PROMETHEUS_DATA_DIR: this.dataDir,
      PROMETHEUS_SCRAPE_INTERVAL: `${this.#intervalS}s`,
      PROMETHEUS_SCRAPE_TIMEOUT: '', // empty: the interval
      // A lone comma is write-config.sh's empty list: that job then has no target.
      WATTMETER_SIMPLE_TARGETS: this.#targets.simple.join(',') || ',',
      WATTMETER_MULTIRATE_TARGETS: this.#targets.multirate.join(',') || ',',
    };
    return {
      // Store starts programs with the bench's environment: `env` adds the settings.
      program: 'env',
      args: [
        ...Object.entries(settings).map(([name, value]) => `${name}=${value}`),
        'sh', path.join(ROOT, 'prometheus/entrypoint.sh'), `--web.listen-address=127.0.0.1:${this.port}`,
      ],
      readyPath: '/-/ready',
    };
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  /** The samples of `selector` (one series) with timestamps in (fromMs, toMs]. */
  async points(selector: string, fromMs: number, toMs: number): Promise<Point[]> {
    const spanMs = Math.max(1, Math.round(toMs - fromMs));
    const result = (await this.query(`${selector}[${spanMs}ms]`, toMs)) as unknown as { values: [number, string][] }[];
    if (result.length > 1) throw new Error(`${selector} matches ${result.length} series; expected one`);
    // Prometheus 2.x ranges include their start (3.x leave it out): keep (fromMs, toMs] either way.
    const points = (result[0]?.values ?? []).map(([s, v]): Point => [Math.round(s * 1000), Number(v)]);
    return points.filter(([ms]) => ms > fromMs);
  }

  /** The value of a query returning one number (NaN if it returns nothing). */
  async scalar(expr: string, timeMs?: number): Promise<number> {
    const result = await this.query(expr, timeMs);
    return result.length === 0 ? NaN : Number(result[0]!.value[1]);
  }

  /** Prometheus's own metrics, each name's value summed over its labels (float and histogram samples...). */
  async ownMetrics(): Promise<Map<string, number>> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const metrics = new Map<string, number>();
    for (const match of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/gm)) {
      metrics.set(match[1]!, (metrics.get(match[1]!) ?? 0) + Number(match[2]));
    }
    return metrics;
  }

  /** Bytes the TSDB occupies on disk (WAL, head chunks, blocks). */
  dataDirBytes(): number {
    const walk = (dir: string): number =>
      readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) return total + walk(file);
        // queries.active is a fixed-size query log, not samples.
        // A file Prometheus removes meanwhile (a WAL checkpoint) counts as gone.
        return entry.name === 'queries.active' ? total : total + (statSync(file, { throwIfNoEntry: false })?.size ?? 0);
      }, 0);
    return walk(this.dataDir);
  }
}
