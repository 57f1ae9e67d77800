// `wattmeter serve`: the whole scenario in one process on one address. One sampler feeds,
// through its fan-out, the live page's stream, the simple and the multirate exporters
// (each on its own path) and, given a URL, the remote-write exporter: the same exporters
// as `wattmeter export`, composed, not copied. Every path is behind the same bind, TLS and
// basic auth (lib/prometheus/http.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sampler } from '../sampler.js';
import { reply, serveRoutes, type Handler, type MetricsServerOptions } from '../prometheus/http.js';
import type { AttributionExportOptions } from '../exporters/attribution.js';
import { simpleMetrics } from '../exporters/simple.js';
import { multirateMetrics } from '../exporters/multirate.js';
import { startRemoteWriteExporter, type RemoteWriteExporter, type RemoteWriteOptions } from '../exporters/remote-write.js';
import { LiveStream, type LiveStreamOptions } from './stream.js';
import { pageAssets, sendAsset } from './page.js';
import { attributionPanel } from './attribution.js';

export const SERVE_PATHS = { page: '/', events: '/events', simple: '/metrics/simple', multirate: '/metrics/multirate' } as const;

export interface ServeOptions extends MetricsServerOptions {
  sampler: Sampler;
  /** The multirate exporter's window (default 30 000 ms). */
  multirateWindowMs?: number;
  /** Which processes and cgroups get series, when the sampler attributes. */
  attribution?: AttributionExportOptions;
  /** Push to a remote-write receiver too. */
  remoteWrite?: Omit<RemoteWriteOptions, 'sampler'>;
  /** The live stream's settings (window, batch interval, pages at once). */
  live?: Omit<LiveStreamOptions, 'hello' | 'health'>;
}

export interface Served {
  /** The page's URL, with the address actually bound. */
  readonly url: string;
  readonly port: number;
  readonly stream: LiveStream;
  readonly remoteWrite: RemoteWriteExporter | undefined;
  close(): Promise<void>;
}

/**
 * What `wattmeter serve` shows on a machine with no energy counter: the model's numbers
 * are an estimate, and how to get a measurement instead.
 */
export const ESTIMATE_BANNER =
  'No energy counter could be read here, so these watts are an ESTIMATE from CPU use (the model), not a measurement. ' +
  'For a measurement, run on a machine that exposes RAPL (bare metal; most VMs do not) with read access to its counters: ' +
  '`wattmeter doctor` says what is missing.';

export async function startServe(options: ServeOptions): Promise<Served> {
  const { sampler } = options;
  const assets = pageAssets();
  const { attribution } = options;
  const simple = simpleMetrics(sampler, { attribution });
  const multirate = multirateMetrics(sampler, { windowMs: options.multirateWindowMs, attribution });
  const remoteWrite = options.remoteWrite && startRemoteWriteExporter({ sampler, attribution, ...options.remoteWrite });
  const stream = new LiveStream(sampler, {
    ...options.live,
    hello: { estimate: sampler.source === 'model' ? ESTIMATE_BANNER : null, paths: describePaths(remoteWrite) },
    attribution: attributionPanel(sampler, attribution?.top),
    health: () => ({ remoteWrite: remoteWrite ? { url: remoteWrite.redactedUrl, ...remoteWrite.stats() } : null }),
  });
  const stop = async () => {
    stream.close();
    simple.stop();
    multirate.stop();
    await remoteWrite?.close();
  };
  const local = loopback(options.host ?? '127.0.0.1');
  const browser = (handler: Handler): Handler => (local ? sameHost(handler) : handler);
  const server = await serveRoutes(options, {
    metrics: { [SERVE_PATHS.simple]: simple.render, [SERVE_PATHS.multirate]: multirate.render },
    handlers: {
      ...Object.fromEntries(Object.entries(assets).map(([path, asset]) => [path, browser(sendAsset(asset))])),
      [SERVE_PATHS.events]: browser(stream.handle),
    },
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return {
    url: `${server.origin}/`,
    port: server.port,
    stream,
    remoteWrite,
    async close() {
      await stop();
      await server.close();
    },
  };
}

function describePaths(remoteWrite: RemoteWriteExporter | undefined): Record<string, string> {
  return {
    simple: SERVE_PATHS.simple,
    multirate: SERVE_PATHS.multirate,
    ...(remoteWrite ? { 'remote write': `→ ${remoteWrite.redactedUrl}` } : {}),
  };
}

function loopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * On a loopback address, the page and its stream answer only requests addressed to this
 * machine by name or address: a web page elsewhere whose DNS name is rebound to 127.0.0.1
 * would otherwise read the stream as if it were this server's own page. A stream request
 * from another origin is refused too.
 */
function sameHost(handler: Handler): Handler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const host = hostname(req.headers.host ?? '');
    if (!(host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host))) {
      return reply(res, 421, 'This address serves the live page only to localhost, 127.0.0.1 or [::1]\n');
    }
    const origin = req.headers.origin;
    if (origin !== undefined && (!URL.canParse(origin) || new URL(origin).host !== req.headers.host)) {
      return reply(res, 403, 'The live page is served to its own origin only\n');
    }
    handler(req, res);
  };
}

/** The host part of a Host header, without the port (an IPv6 address keeps its brackets). */
function hostname(header: string): string {
  return header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0].toLowerCase();
}
