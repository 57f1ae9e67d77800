// The remote-write pusher: a bounded queue of samples and the loop that sends it to a
// Prometheus remote write 1.0 receiver. The remote-write exporter feeds it the sampler's
// ticks, remoteWriteHandler (meter/remote-write.ts) measured segments.
//
// Delivery: one request in flight at a time, so every series reaches the receiver in
// time order. A 2xx is success; a 5xx, a 429 or no answer is retried with exponential
// backoff and jitter until it succeeds (the receiver may be down for minutes); any other
// status is a rejection that sending again cannot fix (Prometheus answers 400 for out of
// order or duplicate samples), so the request is dropped and counted as failed. A 429 or
// 503 with a Retry-After header (seconds or an HTTP date) is retried no sooner than it
// asks, up to MAX_RETRY_AFTER_MS: a receiver shedding load says when it can take more,
// and the backoff cap alone (5 s by default) would hammer it. Meanwhile new samples wait
// in a bounded queue that drops its oldest only when full. close() pushes what is left
// within closeTimeoutMs.
import { Agent as HttpAgent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { compressSync } from 'snappy';
import { WattmeterError, usageError } from '../errors.js';
import type { Labels } from './metric.js';
import { encodeWriteRequest, sortedLabels } from './prompb.js';
import { SampleQueue, type Series, type Taken } from './queue.js';

export type RemoteWriteAuth = { bearerToken: string } | { username: string; password: string };

/** Where and how to push: what the exporter and remoteWriteHandler have in common. */
export interface RemoteWritePushOptions {
  /** The receiver, e.g. http://localhost:9090/api/v1/write (Prometheus with --web.enable-remote-write-receiver). */
  url: string;
  /**
   * A request goes out when maxSamplesPerRequest samples are waiting, or this long after
   * the previous one began (default 1000 ms).
   */
  pushIntervalMs?: number;
  auth?: RemoteWriteAuth;
  /** Sent with every request, e.g. X-Scope-OrgID for Mimir or Cortex. */
  headers?: Record<string, string>;
  /** For https URLs: a private CA, a client certificate. */
  tls?: Pick<AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
  /** `job` and `instance` labels of every series (default wattmeter and the host name). */
  job?: string;
  instance?: string;
  /** Most samples in one request (default 10 000). */
  maxSamplesPerRequest?: number;
  /** Most samples waiting; the oldest are dropped beyond it. */
  queueCapacitySamples?: number;
  /** A request that takes longer is abandoned and retried (default 30 000). */
  requestTimeoutMs?: number;
  /** Retry delays double from min to max (defaults 100 and 5000), each jittered down by up to half. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** close() gives up on what is still unsent after this long (default 5000). */
  closeTimeoutMs?: number;
  /** Told about every failed request (the counters count them anyway). */
  onError?: (error: WattmeterError) => void;
}

export interface RemoteWriteStats {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  /** Waiting, including the request in flight. */
  queued: number;
  /** Requests by HTTP status ("error": no response). */
  requests: Record<string, number>;
  /** When the receiver last accepted a request (ms since the epoch), 0 if never. */
  lastSuccessMs: number;
}

// Longer waits than this are cut short: the exporter's queue holds 10 minutes by default,
// so a 5-minute pause loses nothing, while a receiver asking for hours is likely wrong.
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const VERSION: string = createRequire(import.meta.url)('../../../package.json').version;

export class RemoteWritePusher {
  readonly url: URL;
  #options: RemoteWritePushOptions;
  #headers: OutgoingHttpHeaders;
  #agent: HttpAgent;
  #target: Labels;
  #seriesByKey = new Map<string, Series>();
  #queue: SampleQueue;
  #stats: RemoteWriteStats = { sent: 0, failed: 0, retried: 0, dropped: 0, queued: 0, requests: {}, lastSuccessMs: 0 };
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #closing = false;
  #abort = new AbortController(); // aborts the request in flight when close() times out
  #sending: Promise<void>;
  #closed: Promise<void> | undefined;

  /** defaultQueueCapacitySamples: the caller knows how many samples a while of its data is. */
  constructor(options: RemoteWritePushOptions, defaultQueueCapacitySamples: number) {
    checkNumbers(options);
    this.#options = options;
    if (!URL.canParse(options.url) || !/^https?:$/.test(new URL(options.url).protocol)) {
      throw usageError(`remote write URL must be an http:// or https:// URL; got "${options.url}".`);
    }
    this.url = new URL(options.url);
    this.#target = { job: options.job ?? 'wattmeter', instance: options.instance ?? hostname() };
    for (const [name, value] of Object.entries(this.#target)) {
      if (value === '') throw usageError(`remote write: the ${name} label must not be empty.`);
    }
    this.#headers = {
      ...options.headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'User-Agent': `wattmeter/${VERSION}`,
      ...authorization(options.auth),
    };
    const https = this.url.protocol === 'https:';
    this.#agent = https ? new HttpsAgent({ keepAlive: true, ...options.tls }) : new HttpAgent({ keepAlive: true });
    this.#queue = new SampleQueue(options.queueCapacitySamples ?? defaultQueueCapacitySamples);
    this.#sending = this.#sendLoop();
  }

  /** The series of metric `name` with these labels and the job and instance: one object per series. */
  series(name: string, labels: Labels): Series {
    const all = { ...labels, ...this.#target };
    const key = `${name}${JSON.stringify(Object.entries(all).sort())}`;
    let series = this.#seriesByKey.get(key);
    if (!series) this.#seriesByKey.set(key, (series = { labels: sortedLabels(name, all) }));
    return series;
  }

  /**
   * Queues rows (timestampsMs[i], values[s][i] for each series s), in time order per
   * series. Returns false, counting them as dropped, once close() has been called.
   */
  push(series: readonly Series[], timestampsMs: Float64Array, values: readonly Float64Array[]): boolean {
    if (this.#closing) {
      this.#stats.dropped += series.length * timestampsMs.length;
      return false;
    }
    this.#stats.dropped += this.#queue.push(series, timestampsMs, values);
    this.#wake?.();
    return true;
  }

  stats(): RemoteWriteStats {
    return { ...this.#stats, requests: { ...this.#stats.requests }, queued: this.#queue.length + this.#inFlight };
  }

  /** Pushes everything queued, giving up after closeTimeoutMs. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#wake?.();
      const timer = setTimeout(() => this.#abort.abort(), this.#options.closeTimeoutMs ?? 5000);
      await this.#sending;
      clearTimeout(timer);
      this.#stats.dropped += this.#queue.clear();
      this.#agent.destroy();
    })();
    return this.#closed;
  }

  async #sendLoop(): Promise<void> {
    const { pushIntervalMs = 1000, maxSamplesPerRequest = 10_000 } = this.#options;
    let dueMs = 0; // when a request may go out with less than a full batch
    while (!this.#abort.signal.aborted) {
      const waiting = this.#queue.length;
      if (waiting === 0 && this.#closing) return;
      if (waiting === 0 || (waiting < maxSamplesPerRequest && !this.#closing && Date.now() < dueMs)) {
        await this.#nap(waiting === 0 ? undefined : dueMs - Date.now());
        continue;
      }
      dueMs = Date.now() + pushIntervalMs;
      const taken = this.#queue.take(maxSamplesPerRequest);
      this.#inFlight = taken.samples;
      await this.#send(taken);
      this.#inFlight = 0;
    }
  }

  /** Waits for new samples, close(), or ms (forever if undefined). */
  async #nap(ms: number | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /** Sends one request until it is accepted, rejected for good, or close() times out. */
  async #send(taken: Taken): Promise<void> {
    const { minBackoffMs = 100, maxBackoffMs = 5000, requestTimeoutMs = 30_000 } = this.#options;
    const body = compressSync(Buffer.from(encodeWriteRequest(taken.timeseries)));
    for (let attempt = 0; ; attempt++) {
      let status: number | 'error';
      let message: string;
      let retryAfter: string | undefined;
      try {
        ({ status, message, retryAfter } = await post(this.url, body, this.#headers, this.#agent, AbortSignal.any([this.#abort.signal, AbortSignal.timeout(requestTimeoutMs)])));
      } catch (error) {
        if (this.#abort.signal.aborted) break;
        [status, message] = ['error', error instanceof Error ? error.message : String(error)];
      }
      this.#stats.requests[status] = (this.#stats.requests[status] ?? 0) + 1;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        this.#stats.sent += taken.samples;
        this.#stats.lastSuccessMs = Date.now();
        return;
      }
      const retry = status === 'error' || status === 429 || status >= 500;
      const askedMs = status === 429 || status === 503 ? retryAfterMs(retryAfter) : undefined;
      this.#options.onError?.(
        new WattmeterError(
          `remote write to ${this.url.origin}${this.url.pathname}: ${status} ${message}; ` +
            (retry ? `will retry ${taken.samples} samples` : `${taken.samples} samples rejected, not retried`) +
            (askedMs === undefined ? '' : ` in ${(askedMs / 1000).toFixed(1)} s (Retry-After: ${retryAfter})`),
          { code: 'WATTMETER_REMOTE_WRITE' },
        ),
      );
      if (!retry) {
        this.#stats.failed += taken.samples;
        return;
      }
      const backoffMs = Math.min(maxBackoffMs, minBackoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      const delayMs = Math.max(backoffMs, askedMs ?? 0);
      try {
        await sleep(delayMs, undefined, { signal: this.#abort.signal });
      } catch {
        break; // close() timed out
      }
      this.#stats.retried += taken.samples;
    }
    this.#stats.dropped += taken.samples;
  }
}

const COUNTS = ['maxSamplesPerRequest', 'queueCapacitySamples'] as const;
const DURATIONS = ['pushIntervalMs', 'requestTimeoutMs', 'minBackoffMs', 'maxBackoffMs', 'closeTimeoutMs'] as const;

/** A typo such as a string or a negative number would otherwise make a busy loop or an empty queue. */
function checkNumbers(options: RemoteWritePushOptions): void {
  for (const name of COUNTS) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw usageError(`remote write: ${name} must be a whole number of samples, at least 1; got ${value}.`);
    }
  }
  for (const name of DURATIONS) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && value > 0 && value < 2 ** 31)) {
      throw usageError(`remote write: ${name} must be a number of milliseconds above 0 (at most 24 days); got ${value}.`);
    }
  }
}

/**
 * The wait a Retry-After header asks for (RFC 9110: whole seconds, or an HTTP date),
 * capped at MAX_RETRY_AFTER_MS; undefined when there is none or it cannot be read.
 */
export function retryAfterMs(header: string | undefined, nowMs = Date.now()): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - nowMs;
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function authorization(auth: RemoteWriteAuth | undefined): OutgoingHttpHeaders {
  if (!auth) return {};
  if ('bearerToken' in auth) return { Authorization: `Bearer ${auth.bearerToken}` };
  return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

function post(
  url: URL,
  body: Buffer,
  headers: OutgoingHttpHeaders,
  agent: HttpAgent,
  signal: AbortSignal,
): Promise<{ status: number; message: string; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { ...headers, 'Content-Length': body.length }, agent, signal }, (res) => {
      let message = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        if (message.length < 500) message += text; // the receiver says why it refused
      });
      res.on('end', () => resolve({ status: res.statusCode!, message: message.trim().slice(0, 500), retryAfter: res.headers['retry-after'] }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
