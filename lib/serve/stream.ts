// The live page's data: every millisecond sample of the sampler (folded as the multirate
// and remote-write exporters store them, fold.ts), sent to each open page as server-sent
// events, one message of columns per drain (every 50 ms), never one per sample. The last
// minute is kept, so that a page that opens, or reconnects, starts with it.
//
// The stream is the high-rate side channel a scrape is not (PLATYPUS, CVE-2020-8694): it
// is served on the same address and behind the same TLS and basic auth as the metrics,
// never with a CORS header, and each connection is bounded: a client that stops reading
// is dropped once a few seconds of messages wait for it.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sampler } from '../sampler.js';
import { MillisecondFolder, copyFolded, type Folded } from '../exporters/fold.js';
import { follow } from '../exporters/follow.js';
import type { SamplerStats } from '../stats.js';
import type { AttributionPanel } from './attribution.js';

export interface LiveStreamOptions {
  /** How much history a page holds and gets on connecting (default 60 000 ms). */
  windowMs?: number;
  /** How often a batch goes out (default 50 ms: 20 updates a second). */
  intervalMs?: number;
  /** Most pages streaming at once (default 16); more get 503. */
  maxClients?: number;
  /** Extra fields of the hello message (what else this server serves, a banner). */
  hello?: Record<string, unknown>;
  /** Extra health fields, read at each health message. */
  health?: () => Record<string, unknown>;
  /** The attribution panel's figures, read once a second (null: the sampler does not attribute). */
  attribution?: () => AttributionPanel;
}

// A page that has not read this much is gone or stuck: its connection is dropped.
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const HEALTH_EVERY_MS = 1000;
const ATTRIBUTION_EVERY_MS = 1000;
// How long a browser waits before reconnecting after the connection drops.
const RETRY_MS = 1000;

export class LiveStream {
  readonly windowMs: number;
  readonly id = randomUUID();
  #sampler: Sampler;
  #folder: MillisecondFolder;
  #chunks: Folded[] = [];
  #clients = new Set<ServerResponse>();
  #maxClients: number;
  #hello: string;
  #health: () => Record<string, unknown>;
  #healthDueMs = 0;
  #attribution: () => AttributionPanel;
  #attributionDueMs = 0;
  #lastAttribution: string;
  #stop: () => void;

  constructor(sampler: Sampler, options: LiveStreamOptions = {}) {
    this.#sampler = sampler;
    this.windowMs = options.windowMs ?? 60_000;
    this.#maxClients = options.maxClients ?? 16;
    this.#folder = new MillisecondFolder(sampler.domains);
    this.#health = options.health ?? (() => ({}));
    this.#attribution = options.attribution ?? (() => null);
    this.#lastAttribution = event('attribution', this.#attribution());
    this.#hello = event('hello', {
      id: this.id,
      source: sampler.source,
      rateHz: sampler.rateHz,
      windowMs: this.windowMs,
      domains: sampler.domains.map(({ name, source }) => ({ name, source })),
      warnings: sampler.warnings,
      ...options.hello,
    });
    const unfollow = follow(sampler, options.intervalMs ?? 50, (batch) => this.#add(this.#folder.push(batch)));
    this.#stop = () => unfollow.stop();
  }

  /** The handler of the stream's path. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (this.#clients.size >= this.#maxClients) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' }).end('Too many live pages open\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    if (req.method === 'HEAD') return void res.end();
    res.socket?.setNoDelay(true); // a batch goes out as soon as it is written
    res.write(`retry: ${RETRY_MS}\n\n${this.#hello}`);
    const backlog = this.#chunks.length > 0 ? samplesEvent(concatFolded(this.#chunks)) : '';
    res.write(backlog + event('health', this.#healthNow()) + this.#lastAttribution);
    this.#clients.add(res);
    res.once('close', () => this.#clients.delete(res));
  };

  /** Pages connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Samples held (per domain): what a page gets on connecting. */
  get held(): number {
    return this.#chunks.reduce((n, c) => n + c.length, 0);
  }

  close(): void {
    this.#stop();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  #add(folded: Folded): void {
    if (folded.length > 0) {
      const copy = copyFolded(folded);
      this.#chunks.push(copy);
      const oldest = copy.timestampsMs[copy.length - 1] - this.windowMs;
      while (this.#chunks[0].timestampsMs[this.#chunks[0].length - 1] < oldest) this.#chunks.shift();
      if (this.#clients.size > 0) this.#send(samplesEvent(copy));
    }
    const now = performance.now();
    if (now >= this.#healthDueMs && this.#clients.size > 0) {
      this.#healthDueMs = now + HEALTH_EVERY_MS;
      this.#send(event('health', this.#healthNow()));
    }
    // Read every second whether a page is open or not: its watts are over the second before.
    if (now >= this.#attributionDueMs) {
      this.#attributionDueMs = now + ATTRIBUTION_EVERY_MS;
      this.#lastAttribution = event('attribution', this.#attribution());
      if (this.#clients.size > 0) this.#send(this.#lastAttribution);
    }
  }

  #send(text: string): void {
    for (const res of this.#clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
      else res.write(text);
    }
  }

  #healthNow(): Record<string, unknown> {
    const stats: Partial<SamplerStats> = this.#sampler.closed ? {} : this.#sampler.stats();
    const { achievedRateHz, rateHz, latenessUs, dropped, overruns, effectiveResolutionHz } = stats;
    return { achievedRateHz, rateHz, latenessUs, dropped, overruns, effectiveResolutionHz, ...this.#health() };
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

// Watts to the milliwatt and joules to the millijoule: a third of the bytes of full
// doubles, and far below what a chart or a reader can tell apart.
const mW = (w: number) => Math.round(w * 1000) / 1000;

function samplesEvent(f: Folded): string {
  const w = f.powerW.map((column) => Array.from(column, mW));
  const j = f.energyJ.map((column) => mW(column[f.length - 1]));
  return event('samples', { t: Array.from(f.timestampsMs), w, j });
}

function concatFolded(chunks: readonly Folded[]): Folded {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const join = (pick: (c: Folded) => Float64Array) => {
    const out = new Float64Array(length);
    let at = 0;
    for (const c of chunks) {
      out.set(pick(c), at);
      at += c.length;
    }
    return out;
  };
  const domains = chunks[0].energyJ.length;
  return {
    timestampsMs: join((c) => c.timestampsMs),
    energyJ: Array.from({ length: domains }, (_, d) => join((c) => c.energyJ[d])),
    powerW: Array.from({ length: domains }, (_, d) => join((c) => c.powerW[d])),
    length,
  };
}
