// The small HTTP server of the scraped exporters: GET (or HEAD) /metrics and nothing
// else, a bounded number of responses in progress, and no crash whatever clients do. A
// client that holds connections or responses (never reading them, say) cannot shut others
// out: see clients.ts.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { WattmeterError } from '../errors.js';
import { ConnectionGuard, ScrapeSlots, clientOf } from './clients.js';

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

// A connection silent this long is closed (between keep-alive scrapes too).
const IDLE_TIMEOUT_MS = 30_000;
// A request's headers must arrive within this; Prometheus sends them
// at once, a slow-loris client does not.
const HEADERS_TIMEOUT_MS = 10_000;
// Connections beyond this are closed as soon as they open, so a flood cannot exhaust memory.
const MAX_CONNECTIONS = 1024;
// zlib level 1: on a 16 MB multirate scrape, 66 ms and 13.6x smaller; the default level 6
// takes 306 ms for 19x (bench on this project's CI machine). CPU matters more at 10 kHz.
const GZIP_LEVEL = 1;

function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

export async function serveMetrics(
  options: MetricsServerOptions,
  render: () => MetricsBody | Promise<MetricsBody>,
): Promise<MetricsServer> {
  const slots = new ScrapeSlots(options.maxConcurrentScrapes ?? 10, options.maxScrapesPerClient ?? 4);
  const connections = new ConnectionGuard(MAX_CONNECTIONS, options.maxConnectionsPerClient ?? 32);
  const writeTimeoutMs = options.writeTimeoutMs ?? 30_000;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') return reply(res, 404, 'Not found: try /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
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
      body = await render();
    } catch (error) {
      return reply(res, 500, `${error instanceof Error ? error.message : String(error)}\n`);
    }
    send(req, res, body);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const timeouts = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 };
  const server = createHttpServer(timeouts, listener);
  server.on('connection', (socket) => connections.admit(socket));
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
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/metrics`,
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
    Vary: 'Accept-Encoding',
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

/** Whether an Accept-Encoding header takes gzip (by name or `*`, with a q above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  const codings = new Map(
    (header ?? '').split(',').map((part) => {
      const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return [coding, q === undefined ? 1 : Number(q.slice(2))] as const;
    }),
  );
  return (codings.get('gzip') ?? codings.get('x-gzip') ?? codings.get('*') ?? 0) > 0;
}
