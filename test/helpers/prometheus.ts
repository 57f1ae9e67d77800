// The exporter tests' harness. Real metric stores: Prometheus (Debian's 2.42, scraping and
// receiving remote writes) and VictoriaMetrics, on random loopback ports with temporary
// data directories, queried through their HTTP APIs, stopped, and restarted on the same
// data directory to play an outage; and the fake machine the exporters measure.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { openSampler, type Sampler } from '../../lib/index.js';
import { FakeWriter, fakePowercap, fiveZones, removeRoot, tempRoot } from './fake-rapl.js';
import { freePort, startServer, type Server } from './servers.js';

export interface ScrapeTarget {
  job: string;
  /** The exporter's /metrics URL. */
  url: string;
}

export interface PrometheusConfigOptions {
  targets: readonly ScrapeTarget[];
  scrapeIntervalMs: number;
}

/**
 * prometheus.yml for the tests (JSON is YAML). The only place that knows the file's
 * shape, so that a generator from prometheus/ can replace it.
 */
export function prometheusConfig({ targets, scrapeIntervalMs }: PrometheusConfigOptions): string {
  return JSON.stringify({
    global: { scrape_interval: `${scrapeIntervalMs}ms`, scrape_timeout: `${scrapeIntervalMs}ms` },
    scrape_configs: targets.map(({ job, url }) => {
      const { host, pathname } = new URL(url);
      return { job_name: job, metrics_path: pathname, static_configs: [{ targets: [host] }] };
    }),
  });
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A store behind the Prometheus HTTP API that can be stopped and started again on its data. */
export abstract class Store {
  readonly dir: string;
  readonly port: number;
  #server: Server | undefined;

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where remote write goes. */
  get writeUrl(): string {
    return `${this.url}/api/v1/write`;
  }

  protected abstract command(): { program: string; args: string[]; readyPath: string };

  /** Starts (again) on the same port and data directory. */
  async start(): Promise<this> {
    const { program, args, readyPath } = this.command();
    this.#server = await startServer(program, args, `${this.url}${readyPath}`);
    return this;
  }

  /** Stops gracefully (SIGTERM); the data stays for a restart. */
  async stop(): Promise<void> {
    await this.#server?.stop();
    this.#server = undefined;
  }

  /** Stops and deletes the data. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  output(): string {
    return this.#server?.output() ?? '';
  }

  /** An instant query; time in ms since the epoch (default now). */
  async query(expr: string, timeMs = Date.now()): Promise<VectorSample[]> {
    const params = new URLSearchParams({ query: expr, time: String(timeMs / 1000) });
    const response = await fetch(`${this.url}/api/v1/query?${params}`);
    const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: VectorSample[] } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data.result;
  }

  /** The single value an instant query returns (NaN if none), by the value of one label. */
  async queryBy(expr: string, label: string, timeMs?: number): Promise<Map<string, number>> {
    const result = await this.query(expr, timeMs);
    return new Map(result.map((s) => [s.metric[label] ?? '', Number(s.value[1])]));
  }
}

export class Prometheus extends Store {
  /** A Prometheus that scrapes `targets` (if any) and receives remote writes. */
  static async start(config: Partial<PrometheusConfigOptions> = {}): Promise<Prometheus> {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-prometheus-'));
    const yml = prometheusConfig({ targets: config.targets ?? [], scrapeIntervalMs: config.scrapeIntervalMs ?? 1000 });
    writeFileSync(path.join(dir, 'prometheus.yml'), yml);
    return new Prometheus(dir, await freePort()).start();
  }

  /**
   * Waits for a successful scrape of `job` that started after sinceMs (Prometheus applies
   * its targets up to 5 s after it starts).
   */
  async scraped(job: string, sinceMs = 0, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // timestamp() of a selector is the sample's time; of an expression, the query's.
    const expr = `timestamp(up{job="${job}"}) > ${sinceMs / 1000} and up{job="${job}"} == 1`;
    while ((await this.query(expr)).length === 0) {
      if (Date.now() > deadline) throw new Error(`Prometheus did not scrape ${job} within ${timeoutMs} ms:\n${this.output()}`);
      await sleep(200);
    }
  }

  /** One of Prometheus's own counters, from its /metrics (nobody stores them). */
  async ownMetric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (!match) throw new Error(`Prometheus has no metric ${name}`);
    return Number(match[1]);
  }

  protected command() {
    return {
      program: 'prometheus',
      args: [
        `--config.file=${path.join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--web.enable-remote-write-receiver',
      ],
      readyPath: '/-/ready',
    };
  }
}

export class VictoriaMetrics extends Store {
  static async start(): Promise<VictoriaMetrics> {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattmeter-victoria-'));
    return new VictoriaMetrics(dir, await freePort()).start();
  }

  protected command() {
    return {
      program: 'victoria-metrics',
      args: [
        `-storageDataPath=${this.dir}`,
        `-httpListenAddr=127.0.0.1:${this.port}`,
        // Answer with what was just written: no 30 s latency offset, no result cache.
        '-search.latencyOffset=0s',
        '-search.disableCache',
      ],
      readyPath: '/health',
    };
  }

  /** Makes everything received so far searchable (it is otherwise within seconds). */
  async flush(): Promise<void> {
    await (await fetch(`${this.url}/internal/force_flush`)).arrayBuffer();
  }

  override async query(expr: string, timeMs?: number): Promise<VectorSample[]> {
    await this.flush();
    return super.query(expr, timeMs);
  }
}

/** `promtool check metrics` on an exposition: exit code and what it said. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, output: stdout + stderr });
    });
    child.stdin!.end(text);
  });
}

// ------------------------------------------------------------- the machine being measured

/** The fake machine's domains and their constant power. */
export const DOMAIN_WATTS: Readonly<Record<string, number>> = { 'package-0': 20, 'core-0': 12, 'uncore-0': 2, 'dram-0': 3, psys: 30 };

/** A five-zone fake powercap tree advancing at DOMAIN_WATTS, torn down with the test. */
export async function fakeTree(t: ExecutionContext): Promise<{ root: string; writer: FakeWriter }> {
  const root = tempRoot();
  const w = DOMAIN_WATTS;
  const zones = fiveZones({ package: w['package-0'], core: w['core-0'], uncore: w['uncore-0'], dram: w['dram-0'], psys: w.psys });
  const writer = await FakeWriter.start(fakePowercap(root, zones));
  t.teardown(async () => {
    await writer.stop();
    removeRoot(root);
  });
  return { root, writer };
}

/** A fake tree and a sampler on it, closed with the test. */
export async function fakeMachine(t: ExecutionContext, rateHz = 200): Promise<{ root: string; writer: FakeWriter; sampler: Sampler }> {
  const tree = await fakeTree(t);
  const sampler = openSampler({ sysfsRoot: tree.root, rateHz });
  t.teardown(() => sampler.close());
  return { ...tree, sampler };
}

/** Asserts |actual - expected| <= tolerance x expected. */
export function assertWithin(t: ExecutionContext, actual: number | undefined, expected: number, tolerance: number, what: string): void {
  const ok = actual !== undefined && Math.abs(actual - expected) <= tolerance * expected;
  t.true(ok, `${what}: ${actual} is not within ${tolerance * 100} % of ${expected}`);
}
