// The remote-write pusher: the queue of samples and the loop that sends it to a
// Prometheus remote write 1.0 receiver. The remote-write exporter feeds it the sampler's
// ticks, remoteWriteHandler (meter/remote-write.ts) measured segments.
//
// Queue: in memory, bounded in samples (queue.ts), or with queueDir in segment files,
// bounded in bytes, that survive a crash and are replayed on the next start
// (disk-queue.ts). Either way the oldest samples are dropped, and counted, only when full.
//
// Delivery goes in rounds. A round takes up to shards x maxSamplesPerRequest samples
// from the queue, deals its series out to the shards (largest first, to the least
// loaded; a series to exactly one shard), and each shard sends its requests one after
// the other; the next round starts when every shard is done. So a series is never in two
// requests at once, and reaches the receiver in time order, while a slow receiver gets
// several requests at once. Like Prometheus's queue manager the number of shards follows
// the backlog, here directly: one while the backlog fits one request, up to maxShards
// (default 8) as it grows (Prometheus sizes shards from measured rates every 10 s and
// assigns series by hash; dealing by size each round balances the few, equal series of
// an energy meter better).
//
// A 2xx is success; a 5xx, a 429 or no answer within requestTimeoutMs is retried with
// exponential backoff and jitter until it succeeds (the receiver may be down for
// minutes); any other status is a rejection that sending again cannot fix (Prometheus
// answers 400 for out of order or duplicate samples), so the request is dropped and
// counted as failed. 307 and 308 are followed (request.ts). A 429 or 503 with a
// Retry-After header (seconds or an HTTP date) is retried no sooner than it asks, up to
// MAX_RETRY_AFTER_MS. A TLS handshake that finds plain HTTP on the port ("wrong version
// number") is a configuration error, not an outage: reported as such, not retried.
//
// close() cuts short any backoff or Retry-After wait and tries once more at once, then
// keeps trying until closeTimeoutMs; what is left is dropped (memory) or stays in
// queueDir for the next start.
import { Agent as HttpAgent, validateHeaderName, validateHeaderValue, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { hostname } from 'node:os';
import { compressSync } from 'snappy';
import { WattmeterError, usageError } from '../errors.js';
import { DiskQueue, MIN_QUEUE_BYTES } from './disk-queue.js';
import type { Labels } from './metric.js';
import { encodeWriteRequest, sortedLabels, type SeriesColumns } from './prompb.js';
import { SampleQueue, type PendingSamples, type Series } from './queue.js';
import { postFollowing, redactUrl, sanitizeText, type Answer } from './request.js';
import { VERSION } from '../version.js';

export type RemoteWriteAuth = { bearerToken: string } | { username: string; password: string };

/** Where and how to push: what the exporter and remoteWriteHandler have in common. */
export interface RemoteWritePushOptions {
  /**
   * The receiver, e.g. http://localhost:9090/api/v1/write (Prometheus with
   * --web.enable-remote-write-receiver). User info in it (https://user:pass@host/...) is
   * basic auth, and excludes `auth`.
   */
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
  /** Most requests in flight at once, each to its own shard of the series (default 8). */
  maxShards?: number;
  /** Most samples waiting in memory; the oldest are dropped beyond it (not used with queueDir). */
  queueCapacitySamples?: number;
  /**
   * A directory for a durable queue: samples are written there before they count as
   * queued, deleted once sent, and what is left is sent after a restart. In memory if
   * not given. One pusher per directory.
   */
  queueDir?: string;
  /** With queueDir: most bytes of queue files; the oldest are dropped beyond it (default 1 GiB, at least 64 KiB). */
  maxQueueBytes?: number;
  /** A request that gets no answer for this long is abandoned and retried (default 30 000). */
  requestTimeoutMs?: number;
  /** Retry delays double from min to max (defaults 100 and 5000), each jittered down by up to half. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** close() gives up on what is still unsent after this long (default 5000). */
  closeTimeoutMs?: number;
  /** Told about every failed request, and damage found in queueDir (the counters count them anyway). */
  onError?: (error: WattmeterError) => void;
}

export interface RemoteWriteStats {
  sent: number;
  failed: number;
  retried: number;
  dropped: number;
  /** Waiting, including the requests in flight. */
  queued: number;
  /** Requests by HTTP status ("error": no response), redirects included. */
  requests: Record<string, number>;
  /** When the receiver last accepted a request (ms since the epoch), 0 if never. */
  lastSuccessMs: number;
  /** Shards (requests at once) of the latest round. */
  shards: number;
  /** Bytes of the queue files (0 without queueDir). */
  queueBytes: number;
  /** Queue segments found damaged (a torn or corrupt record): the rest of each was skipped. */
  corruptSegments: number;
  /** Bytes so skipped. */
  corruptBytes: number;
  /** Samples read back from queue files a previous run wrote. */
  replayed: number;
}

// Longer waits than this are cut short: the exporter's queue holds 10 minutes by default,
// so a 5-minute pause loses nothing, while a receiver asking for hours is likely wrong.
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const DEFAULT_MAX_QUEUE_BYTES = 1 << 30;

export class RemoteWritePusher {
  readonly url: URL;
  /** The URL fit to print: user info and query values replaced by xxxxx. */
  readonly redactedUrl: string;
  #options: RemoteWritePushOptions;
  #headers: OutgoingHttpHeaders;
  #agents = new Map<string, HttpAgent>();
  #target: Labels;
  #seriesByKey = new Map<string, Series>();
  #queue: PendingSamples;
  #disk: DiskQueue | undefined;
  #stats = { sent: 0, failed: 0, retried: 0, dropped: 0, requests: {} as Record<string, number>, lastSuccessMs: 0, shards: 0 };
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #closing = false;
  #closeWaiters = new Set<() => void>();
  #abort = new AbortController(); // aborts the requests in flight when close() times out
  #sending: Promise<void>;
  #closed: Promise<void> | undefined;

  /** defaultQueueCapacitySamples: the caller knows how many samples a while of its data is. */
  constructor(options: RemoteWritePushOptions, defaultQueueCapacitySamples: number) {
    checkNumbers(options);
    this.#options = options;
    this.redactedUrl = redactUrl(String(options.url));
    const url = URL.canParse(options.url) ? new URL(options.url) : undefined;
    if (!url || !/^https?:$/.test(url.protocol)) {
      throw usageError(`remote write URL must be an http:// or https:// URL; got "${this.redactedUrl}".`);
    }
    if (url.port === '0') throw usageError(`remote write URL ${this.redactedUrl}: port 0 is not a port one can send to.`);
    const userinfo = url.username !== '' || url.password !== '';
    if (userinfo && options.auth) {
      throw usageError(`remote write URL ${this.redactedUrl} carries credentials and auth is given too: use one or the other.`);
    }
    const auth = userinfo ? urlCredentials(url, this.redactedUrl) : options.auth;
    url.username = url.password = ''; // sent as a header, which a redirect to another origin drops
    this.url = url;
    this.#target = { job: options.job ?? 'wattmeter', instance: options.instance ?? hostname() };
    for (const [name, value] of Object.entries(this.#target)) {
      if (value === '') throw usageError(`remote write: the ${name} label must not be empty.`);
    }
    const custom = checkedHeaders(options.headers ?? {});
    if (auth && Object.keys(custom).some((name) => /^authorization$/i.test(name))) {
      throw usageError('remote write: an Authorization header and credentials are given together: use one or the other.');
    }
    this.#headers = {
      ...custom,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'User-Agent': `wattmeter/${VERSION}`,
      ...authorization(auth),
    };
    if (options.queueDir !== undefined) {
      const onDamage = (message: string) => this.#options.onError?.(new WattmeterError(message, { code: 'WATTMETER_REMOTE_WRITE_QUEUE' }));
      try {
        this.#queue = this.#disk = new DiskQueue(options.queueDir, options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES, onDamage);
      } catch (error) {
        if (error instanceof WattmeterError) throw error;
        throw usageError(`remote write queue directory ${options.queueDir}: ${(error as Error).message}; give a directory this user can create and write.`);
      }
    } else {
      this.#queue = new SampleQueue(options.queueCapacitySamples ?? defaultQueueCapacitySamples);
    }
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
    const disk = this.#disk?.stats() ?? { bytes: 0, corruptSegments: 0, corruptBytes: 0, replayed: 0 };
    return {
      ...this.#stats,
      requests: { ...this.#stats.requests },
      queued: this.#queue.length + this.#inFlight,
      queueBytes: disk.bytes,
      corruptSegments: disk.corruptSegments,
      corruptBytes: disk.corruptBytes,
      replayed: disk.replayed,
    };
  }

  /**
   * Pushes everything queued, giving up after closeTimeoutMs: a backoff or Retry-After
   * wait is cut short for one more try. With queueDir, what is left stays for the next start.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#wake?.();
      for (const wake of this.#closeWaiters) wake();
      const timer = setTimeout(() => this.#abort.abort(), this.#options.closeTimeoutMs ?? 5000);
      await this.#sending;
      clearTimeout(timer);
      this.#stats.dropped += this.#queue.close();
      for (const agent of this.#agents.values()) agent.destroy();
    })();
    return this.#closed;
  }

  async #sendLoop(): Promise<void> {
    const { pushIntervalMs = 1000, maxSamplesPerRequest = 10_000, maxShards = 8 } = this.#options;
    let dueMs = 0; // when a request may go out with less than a full batch
    while (!this.#abort.signal.aborted) {
      const waiting = this.#queue.length;
      if (waiting === 0 && this.#closing) return;
      if (waiting === 0 || (waiting < maxSamplesPerRequest && !this.#closing && Date.now() < dueMs)) {
        await this.#nap(waiting === 0 ? undefined : dueMs - Date.now());
        continue;
      }
      dueMs = Date.now() + pushIntervalMs;
      const shards = Math.min(maxShards, Math.ceil(waiting / maxSamplesPerRequest));
      const taken = this.#queue.take(shards * maxSamplesPerRequest);
      if (taken.samples === 0) continue; // all of it sent before a restart
      const dealt = deal(taken.timeseries, shards, maxSamplesPerRequest);
      this.#stats.shards = dealt.length;
      this.#inFlight = taken.samples;
      await Promise.all(
        dealt.map(async (requests) => {
          for (const request of requests) if (!(await this.#send(request))) return;
        }),
      );
      if (this.#abort.signal.aborted) break;
      this.#queue.commit();
    }
    // close() timed out: what was in flight is dropped, or stays on disk for the next start.
    if (!this.#queue.durable) {
      this.#stats.dropped += this.#inFlight;
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

  /**
   * Waits ms before a retry; false if close() timed out meanwhile. close() cuts short a
   * wait that began before it, for one more try at once.
   */
  async #backoff(ms: number): Promise<boolean> {
    const signal = this.#abort.signal;
    let timer: NodeJS.Timeout | undefined;
    let wake: () => void = () => {};
    await new Promise<void>((resolve) => {
      wake = () => resolve();
      timer = setTimeout(wake, ms);
      signal.addEventListener('abort', wake, { once: true });
      if (!this.#closing) this.#closeWaiters.add(wake);
    });
    clearTimeout(timer);
    signal.removeEventListener('abort', wake);
    this.#closeWaiters.delete(wake);
    return !signal.aborted;
  }

  #agent(url: URL): HttpAgent {
    let agent = this.#agents.get(url.protocol);
    if (!agent) {
      agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true, ...this.#options.tls }) : new HttpAgent({ keepAlive: true });
      this.#agents.set(url.protocol, agent);
    }
    return agent;
  }

  /**
   * Sends one request until it is accepted, rejected for good, or close() times out;
   * false in the last case.
   */
  async #send(timeseries: SeriesColumns[]): Promise<boolean> {
    const { minBackoffMs = 100, maxBackoffMs = 5000, requestTimeoutMs = 30_000 } = this.#options;
    const samples = countSamples(timeseries);
    const body = compressSync(Buffer.from(encodeWriteRequest(timeseries)));
    const count = (status: number | string) => (this.#stats.requests[status] = (this.#stats.requests[status] ?? 0) + 1);
    const done = () => {
      this.#inFlight -= samples;
      this.#queue.done(timeseries);
      return true;
    };
    for (let attempt = 0; ; attempt++) {
      let answer: Answer | undefined;
      let failure = '';
      try {
        answer = await postFollowing(this.url, body, this.#headers, (url) => this.#agent(url), requestTimeoutMs, this.#abort.signal);
      } catch (error) {
        if (this.#abort.signal.aborted) return false;
        failure = sanitizeText(error instanceof Error ? error.message : String(error));
        if (isPlainHttpOnTlsPort(error)) {
          count('error');
          this.#stats.failed += samples;
          this.#report(
            `TLS handshake failed (${failure}): the receiver does not speak TLS on this port; ` +
              `use http:// or the receiver's TLS port. ${samples} samples rejected, not retried`,
            'WATTMETER_REMOTE_WRITE_CONFIG',
          );
          return done();
        }
      }
      for (const hop of answer?.redirects ?? []) count(hop);
      const status = answer?.status ?? 'error';
      count(status);
      if (typeof status === 'number' && status >= 200 && status < 300) {
        this.#stats.sent += samples;
        this.#stats.lastSuccessMs = Date.now();
        return done();
      }
      const retry = status === 'error' || status === 429 || status >= 500;
      const askedMs = status === 429 || status === 503 ? retryAfterMs(answer?.retryAfter) : undefined;
      this.#report(
        `${status} ${answer?.message ?? failure}; ` +
          (retry ? `will retry ${samples} samples` : `${samples} samples rejected, not retried`) +
          (askedMs === undefined ? '' : ` in ${(askedMs / 1000).toFixed(1)} s (Retry-After: ${answer?.retryAfter})`),
      );
      if (!retry) {
        this.#stats.failed += samples;
        return done();
      }
      const backoffMs = Math.min(maxBackoffMs, minBackoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (!(await this.#backoff(Math.max(backoffMs, askedMs ?? 0)))) return false;
      this.#stats.retried += samples;
    }
  }

  #report(what: string, code = 'WATTMETER_REMOTE_WRITE'): void {
    this.#options.onError?.(new WattmeterError(`remote write to ${this.redactedUrl}: ${what}`, { code }));
  }
}

function countSamples(timeseries: readonly SeriesColumns[]): number {
  return timeseries.reduce((n, s) => n + s.samples.reduce((m, c) => m + c.values.length, 0), 0);
}

/** OpenSSL's answer when a TLS client hello gets a plain HTTP response. */
function isPlainHttpOnTlsPort(error: unknown): boolean {
  const { code, message } = error as NodeJS.ErrnoException;
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(String(message));
}

/**
 * A round's series dealt to at most `shards` shards, largest first to the least loaded
 * (each series to one shard), then each shard's series cut into requests of at most
 * maxSamples, in time order (a series may go on in the shard's next request).
 */
export function deal(timeseries: readonly SeriesColumns[], shards: number, maxSamples: number): SeriesColumns[][][] {
  const bins = Array.from({ length: Math.max(1, Math.min(shards, timeseries.length)) }, () => ({ load: 0, series: [] as SeriesColumns[] }));
  const bySize = timeseries.map((s) => ({ s, n: countSamples([s]) })).sort((a, b) => b.n - a.n);
  for (const { s, n } of bySize) {
    const bin = bins.reduce((least, b) => (b.load < least.load ? b : least));
    bin.load += n;
    bin.series.push(s);
  }
  return bins
    .filter((bin) => bin.series.length > 0)
    .map((bin) => {
      const requests: SeriesColumns[][] = [[]];
      let room = maxSamples;
      for (const { labels, samples } of bin.series) {
        let piece: SeriesColumns['samples'][number][] = [];
        for (const { timestampsMs, values } of samples) {
          for (let from = 0; from < values.length; ) {
            if (room === 0) {
              if (piece.length > 0) requests.at(-1)!.push({ labels, samples: piece });
              requests.push([]);
              [piece, room] = [[], maxSamples];
            }
            const n = Math.min(room, values.length - from);
            piece.push({ timestampsMs: timestampsMs.subarray(from, from + n), values: values.subarray(from, from + n) });
            from += n;
            room -= n;
          }
        }
        if (piece.length > 0) requests.at(-1)!.push({ labels, samples: piece });
      }
      return requests.filter((r) => r.length > 0);
    });
}

const COUNTS = ['maxSamplesPerRequest', 'queueCapacitySamples', 'maxShards'] as const;
const DURATIONS = ['pushIntervalMs', 'requestTimeoutMs', 'minBackoffMs', 'maxBackoffMs', 'closeTimeoutMs'] as const;

/** A typo such as a string or a negative number would otherwise make a busy loop or an empty queue. */
function checkNumbers(options: RemoteWritePushOptions): void {
  for (const name of COUNTS) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
      throw usageError(`remote write: ${name} must be a whole number of ${name === 'maxShards' ? 'requests' : 'samples'}, at least 1; got ${value}.`);
    }
  }
  for (const name of DURATIONS) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && value > 0 && value < 2 ** 31)) {
      throw usageError(`remote write: ${name} must be a number of milliseconds above 0 (at most 24 days); got ${value}.`);
    }
  }
  const { maxQueueBytes, queueDir } = options;
  if (maxQueueBytes !== undefined && !(Number.isSafeInteger(maxQueueBytes) && maxQueueBytes >= MIN_QUEUE_BYTES)) {
    throw usageError(`remote write: maxQueueBytes must be a whole number of bytes, at least ${MIN_QUEUE_BYTES}; got ${maxQueueBytes}.`);
  }
  if (maxQueueBytes !== undefined && queueDir === undefined) throw usageError('remote write: maxQueueBytes bounds the queue directory: give queueDir too.');
  if (queueDir !== undefined && (typeof queueDir !== 'string' || queueDir === '')) throw usageError('remote write: queueDir must be a directory path.');
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Header names and values that Node would refuse at every request (control characters,
 * characters outside Latin-1): refused once, here, instead of retried forever.
 */
function checkedHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    try {
      validateHeaderName(name);
    } catch {
      throw usageError(`remote write: ${JSON.stringify(name)} is not a valid header name.`);
    }
    checkHeaderText(`header ${name}`, value);
    validateHeaderValue(name, value);
  }
  return headers;
}

/** The text of a header value: Latin-1 without control characters or surrounding blanks. */
function checkHeaderText(what: string, value: string): void {
  if (typeof value !== 'string' || value === '') throw usageError(`remote write: the ${what} is empty.`);
  if (CONTROL.test(value)) throw usageError(`remote write: the ${what} contains a control character (a newline from a file?).`);
  if (/[^\u0000-\u00ff]/.test(value)) throw usageError(`remote write: the ${what} contains characters outside Latin-1, which HTTP headers cannot carry.`);
  if (value.trim() !== value) throw usageError(`remote write: the ${what} starts or ends with blanks.`);
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
  if ('bearerToken' in auth) {
    checkHeaderText('bearer token', auth.bearerToken);
    return { Authorization: `Bearer ${auth.bearerToken}` };
  }
  if (auth.username.includes(':')) throw usageError('remote write: a basic-auth user name cannot contain ":".');
  if (CONTROL.test(auth.username + auth.password)) throw usageError('remote write: the user name or password contains a control character.');
  return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

/** The user and password of a URL, percent-decoded; a malformed escape is a usage error. */
function urlCredentials(url: URL, redacted: string): { username: string; password: string } {
  try {
    return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  } catch {
    throw usageError(`remote write URL ${redacted}: its user or password has a malformed %-escape.`);
  }
}
