// The small HTTP server of the scraped exporters: GET (or HEAD) /metrics and nothing
// else, a bounded number of responses in progress, and no crash whatever clients do.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Readable, pipeline } from 'node:stream';
import { WattmeterError } from '../errors.js';
import { negotiateFormat, type ExpositionFormat } from './accept.js';

export interface MetricsServerOptions {
  /** Interface to listen on (default: all). */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /** Responses in progress at once; a scrape beyond that gets 503 at once (default 10). */
  maxConcurrentScrapes?: number;
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

// A client that stops reading (or never finishes its request) gives its slot back after
// this much silence; Prometheus gives up on a scrape after its scrape_timeout anyway.
const IDLE_TIMEOUT_MS = 30_000;
// Connections beyond this are closed as soon as they open, so a flood cannot exhaust memory.
const MAX_CONNECTIONS = 1024;

function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(text);
}

export async function serveMetrics(
  options: MetricsServerOptions,
  render: (format: ExpositionFormat) => MetricsBody | Promise<MetricsBody>,
): Promise<MetricsServer> {
  const maxConcurrent = options.maxConcurrentScrapes ?? 10;
  let inFlight = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') return reply(res, 404, 'Not found: try /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    if (inFlight >= maxConcurrent) return reply(res, 503, 'Too many scrapes in progress\n', { 'Retry-After': '1' });
    inFlight++;
    res.once('close', () => inFlight--); // sent, or the client went away mid-response
    let body: MetricsBody;
    try {
      body = await render(negotiateFormat(req.headers.accept));
    } catch (error) {
      return reply(res, 500, `${error instanceof Error ? error.message : String(error)}\n`);
    }
    const length = body.chunks.reduce((n, chunk) => n + chunk.length, 0);
    res.writeHead(200, { 'Content-Type': body.contentType, 'Content-Length': length, Vary: 'Accept' });
    // A large body streams: pipeline honours backpressure and swallows the error of a
    // client that disconnects. A single buffer goes at once, much cheaper per request.
    if (body.chunks.length === 1) res.end(body.chunks[0]);
    else pipeline(Readable.from(body.chunks, { objectMode: false }), res, () => {});
  };

  const server = createServer((req, res) => void handle(req, res));
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = IDLE_TIMEOUT_MS;
  server.requestTimeout = IDLE_TIMEOUT_MS;
  server.setTimeout(IDLE_TIMEOUT_MS); // destroys a socket idle that long
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new WattmeterError(`Cannot serve metrics on ${options.host ?? '*'}:${options.port ?? 0}: ${error.message}`, { cause: error })),
    );
    server.listen(options.port ?? 0, options.host, resolve);
  });
  const address = server.address() as { address: string; port: number; family: string };
  const host = options.host && options.host !== '::' && options.host !== '0.0.0.0' ? options.host : 'localhost';
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
