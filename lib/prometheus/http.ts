// The small HTTP server of the scraped exporters: GET (or HEAD) /metrics and nothing
// else (or a few paths, see serveRoutes), a bounded number of scrapes in progress, and no
// crash whatever clients do. A
// client that holds connections or responses (never reading them, say) cannot shut others
// out: see clients.ts. Optionally TLS and basic auth from an exporter-toolkit web config.
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { once } from 'node:events';
import { Readable, pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { createGzip } from 'node:zlib';
import { WattmeterError } from '../errors.js';
import { acceptsGzip, negotiateFormat, type ExpositionFormat } from './accept.js';
import { BasicAuth } from './basic-auth.js';
import { ConnectionGuard, ScrapeSlots, TokenBucket, clientOf } from './clients.js';
import { loadWebConfig, type WebTlsConfig } from './web-config.js';

export interface MetricsServerOptions {
  /**
   * Interface to listen on (default 127.0.0.1, this machine only: energy counters leak
   * what the CPU computes, CVE-2020-8694). '0.0.0.0' or '::' for all.
   */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /**
   * Responses in progress at once; a scrape beyond that gets 503 at once (default 10). The
   * last one is kept for a client that has none in progress.
   */
  maxConcurrentScrapes?: number;
  /** Responses in progress for one client (IP address, or /64 for IPv6) (default 4). */
  maxScrapesPerClient?: number;
  /** Open connections of one client; more are closed as they open (default 32). */
  maxConnectionsPerClient?: number;
  /**
   * Time a response may take from request to last byte, after which the connection is
   * closed and its slot freed (default 30 000 ms; Prometheus gives up at its scrape_timeout).
   */
  writeTimeoutMs?: number;
  /**
   * An exporter-toolkit web configuration file (node_exporter's --web.config.file): TLS,
   * client certificates, basic auth users. Read at start; a mistake in it is a usage error.
   */
  webConfigFile?: string;
}

/** A rendered scrape: a list of buffers, so that large bodies are streamed, not joined. */
export interface MetricsBody {
  contentType: string;
  chunks: readonly Buffer[];
}

export interface MetricsServer {
  /** The /metrics URL, with the address actually bound. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export type Render = (format: ExpositionFormat) => MetricsBody | Promise<MetricsBody>;

/**
 * A path's own handler (a page, an event stream), called for GET and HEAD once the web
 * config's rate limit, headers and basic auth have passed. It takes no scrape slot: it
 * bounds its own responses.
 */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** What one server serves: scrapes on some paths, handlers on others. */
export interface Routes {
  metrics?: Record<string, Render>;
  handlers?: Record<string, Handler>;
}

export interface RoutesServer {
  /** http(s)://host:port, with the address actually bound. */
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

// A connection silent this long is closed (between keep-alive scrapes too).
const IDLE_TIMEOUT_MS = 30_000;
// A request's headers (and a TLS handshake) must arrive within this; Prometheus sends them
// at once, a slow-loris client does not.
const HEADERS_TIMEOUT_MS = 10_000;
// Connections beyond this are closed as soon as they open, so a flood cannot exhaust memory.
const MAX_CONNECTIONS = 1024;
// zlib level 1: on a 16 MB multirate scrape, 66 ms and 13.6x smaller; the default level 6
// takes 306 ms for 19x (bench on this project's CI machine). CPU matters more at 10 kHz.
const GZIP_LEVEL = 1;

export function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

export async function serveMetrics(options: MetricsServerOptions, render: Render): Promise<MetricsServer> {
  const server = await serveRoutes(options, { metrics: { '/metrics': render } });
  return { ...server, url: `${server.origin}/metrics` };
}

/** One server for several paths, every one behind the same bind, TLS, auth and limits. */
export async function serveRoutes(options: MetricsServerOptions, routes: Routes): Promise<RoutesServer> {
  const metrics = new Map(Object.entries(routes.metrics ?? {}));
  const handlers = new Map(Object.entries(routes.handlers ?? {}));
  const paths = [...handlers.keys(), ...metrics.keys()].join(', ');
  const web = options.webConfigFile === undefined ? undefined : loadWebConfig(options.webConfigFile);
  const slots = new ScrapeSlots(options.maxConcurrentScrapes ?? 10, options.maxScrapesPerClient ?? 4);
  const connections = new ConnectionGuard(MAX_CONNECTIONS, options.maxConnectionsPerClient ?? 32);
  const writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
  const auth = web?.users.size ? new BasicAuth(web.users) : undefined;
  const limiter = web?.rateLimit && new TokenBucket(web.rateLimit.intervalMs, web.rateLimit.burst);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (limiter && !limiter.take()) return reply(res, 429, 'Too many requests\n', { 'Retry-After': '1' });
    for (const [name, value] of Object.entries(web?.headers ?? {})) res.setHeader(name, value);
    const verdict = auth && (await auth.check(req.headers.authorization));
    if (verdict === 'busy') return reply(res, 503, 'Too many logins in progress\n', { 'Retry-After': '1' });
    if (verdict === 'denied') return reply(res, 401, 'Unauthorized\n', { 'WWW-Authenticate': 'Basic realm="wattmeter", charset="UTF-8"' });
    const path = (req.url ?? '').split('?')[0];
    const render = metrics.get(path);
    const handler = handlers.get(path);
    if (!render && !handler) return reply(res, 404, `Not found: try ${paths}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    if (handler) return handler(req, res);
    const client = clientOf(req.socket.remoteAddress);
    if (!slots.take(client)) return reply(res, 503, 'Too many scrapes in progress\n', { 'Retry-After': '1' });
    // A client that does not read its response loses the connection, and its slot, at the deadline.
    const deadline = setTimeout(() => res.destroy(), writeTimeoutMs);
    res.once('close', () => {
      clearTimeout(deadline);
      slots.give(client);
    }); // sent, timed out, or the client went away mid-response
    let body: MetricsBody;
    try {
      body = await render!(negotiateFormat(req.headers.accept));
    } catch (error) {
      return reply(res, 500, `${error instanceof Error ? error.message : String(error)}\n`);
    }
    send(req, res, body);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const timeouts = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 };
  const tls = web?.tls;
  const server = tls
    ? createHttpsServer({ ...tls.options, ...timeouts, handshakeTimeout: HEADERS_TIMEOUT_MS }, listener)
    : createHttpServer(timeouts, listener);
  server.on('connection', (socket) => connections.admit(socket));
  if (tls) server.on('secureConnection', (socket: TLSSocket) => clientCertificateAccepted(socket, tls) || socket.destroy());
  server.setTimeout(IDLE_TIMEOUT_MS); // destroys a socket idle that long
  const bind = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new WattmeterError(`Cannot serve metrics on ${bind}:${options.port ?? 0}: ${error.message}`, { cause: error })),
    );
    server.listen(options.port ?? 0, bind, resolve);
  });
  const address = server.address() as { address: string; port: number; family: string };
  const host = bind !== '::' && bind !== '0.0.0.0' ? bind : 'localhost';
  return {
    origin: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    port: address.port,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Writes a rendered body, gzipped if the client accepts it (Prometheus does). */
function send(req: IncomingMessage, res: ServerResponse, body: MetricsBody): void {
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  const length = body.chunks.reduce((n, chunk) => n + chunk.length, 0);
  res.writeHead(200, {
    'Content-Type': body.contentType,
    Vary: 'Accept, Accept-Encoding', // the format and the compression follow the request
    ...(gzip ? { 'Content-Encoding': 'gzip' } : { 'Content-Length': length }),
  });
  if (req.method === 'HEAD') return void res.end();
  // A large body streams: pipeline honours backpressure and swallows the error of a
  // client that disconnects. A single buffer goes at once, much cheaper per request.
  const source = () => Readable.from(body.chunks, { objectMode: false });
  if (gzip) pipeline(source(), createGzip({ level: GZIP_LEVEL }), res, () => {});
  else if (body.chunks.length === 1) res.end(body.chunks[0]);
  else pipeline(source(), res, () => {});
}

/** The checks of a client certificate that Node's handshake does not make. */
function clientCertificateAccepted(socket: TLSSocket, tls: WebTlsConfig): boolean {
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return tls.clientAuth !== 'RequireAnyClientCert' && !tls.allowedSans;
  if (tls.clientAuth === 'VerifyClientCertIfGiven' && !socket.authorized) return false;
  return !tls.allowedSans || subjectAltNames(new X509Certificate(raw)).some((name) => tls.allowedSans!.includes(name));
}

/** A certificate's DNS names, IP addresses, e-mail addresses and URIs. */
function subjectAltNames(cert: X509Certificate): string[] {
  // Node writes them as `DNS:a.example, IP Address:10.0.0.1, URI:spiffe://x`, quoting
  // (JSON-style) a value with a comma or quote in it.
  const entries = (cert.subjectAltName ?? '').matchAll(/(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g);
  return [...entries].map(([, , value]) => (value.startsWith('"') ? (JSON.parse(value) as string) : value));
}
