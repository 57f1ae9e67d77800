// The scraped exporters' HTTP server: only GET/HEAD /metrics, bounded concurrency, and
// no harm from floods or clients that hang up mid-response.
import test from 'ava';
import { connect } from 'node:net';
import { once } from 'node:events';
import { WattmeterError } from '../lib/index.js';
import { serveMetrics, type MetricsBody } from '../lib/prometheus/http.js';
import { OPENMETRICS_FORMAT, TEXT_FORMAT } from '../lib/prometheus/text.js';
import type { ExpositionFormat } from '../lib/prometheus/accept.js';

const BIG = Buffer.alloc(8 << 20, 'wattmeter_power_watts 1\n'); // 8 MiB: many socket writes

async function server(t: import('ava').ExecutionContext, render: (format: ExpositionFormat) => MetricsBody | Promise<MetricsBody>, maxConcurrentScrapes?: number) {
  const s = await serveMetrics({ host: '127.0.0.1', port: 0, maxConcurrentScrapes }, render);
  t.teardown(() => s.close());
  return s;
}

const body = (text: string | Buffer): MetricsBody => ({ contentType: TEXT_FORMAT, chunks: [Buffer.from(text)] });

test('GET and HEAD /metrics, 404 elsewhere, 405 for other methods', async (t) => {
  const s = await server(t, () => body('up 1\n'));
  const get = await fetch(`${s.url}?name[]=x`);
  t.is(get.status, 200);
  t.is(get.headers.get('content-type'), TEXT_FORMAT);
  t.is(await get.text(), 'up 1\n');
  const head = await fetch(s.url, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');
  for (const path of ['/', '/metric', '/metrics/x', '/favicon.ico']) {
    const r = await fetch(new URL(path, s.url));
    t.is(r.status, 404, path);
    await r.arrayBuffer();
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await fetch(s.url, { method });
    t.is(r.status, 405, method);
    t.is(r.headers.get('allow'), 'GET, HEAD');
    await r.arrayBuffer();
  }
});

test('the render callback gets the format negotiated on Accept, and the response varies by it', async (t) => {
  const s = await server(t, (format) => ({ contentType: format === 'openmetrics' ? OPENMETRICS_FORMAT : TEXT_FORMAT, chunks: [Buffer.from(format)] }));
  const prometheus = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  for (const [accept, format] of [[prometheus, 'openmetrics'], ['text/plain', 'text'], ['*/*', 'text']]) {
    const r = await fetch(s.url, { headers: { accept } });
    t.is(await r.text(), format, accept);
    t.is(r.headers.get('vary'), 'Accept');
  }
  // No Accept header at all (fetch always sends one).
  const { hostname, port } = new URL(s.url);
  const socket = connect(Number(port), hostname);
  socket.end(`GET /metrics HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  let raw = '';
  for await (const chunk of socket) raw += chunk;
  t.regex(raw, /\r\n\r\ntext$/);
  t.regex(raw, new RegExp(`^Content-Type: ${TEXT_FORMAT.replace(/[.]/g, '\\.')}\r$`, 'mi'));
});

test('scrapes beyond the concurrency bound get 503 at once; the others complete', async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const s = await server(
    t,
    async () => {
      await gate;
      return body('up 1\n');
    },
    3,
  );
  const slow = [1, 2, 3].map(() => fetch(s.url));
  await new Promise((resolve) => setTimeout(resolve, 200)); // the three are rendering
  const refused = await Promise.all([1, 2].map(() => fetch(s.url)));
  t.deepEqual(refused.map((r) => r.status), [503, 503]);
  t.is(refused[0].headers.get('retry-after'), '1');
  open();
  const done = await Promise.all(slow);
  t.deepEqual(await Promise.all(done.map((r) => r.text())), ['up 1\n', 'up 1\n', 'up 1\n']);
  t.is((await fetch(s.url)).status, 200); // the slots came back
});

test('a flood of clients that hang up mid-response, send garbage or nothing leaves the server serving', async (t) => {
  // Bodies of one buffer (sent at once) and of several (streamed), in turn.
  let scrapes = 0;
  const s = await server(t, () => ({ contentType: TEXT_FORMAT, chunks: scrapes++ % 2 ? [BIG] : [BIG, BIG] }), 10);
  const { port } = s;
  const hangUpMidResponse = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
  };
  const garbage = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.end('\x16\x03\x01 not http at all\r\n\r\n');
    socket.resume(); // read the 400, so that the socket can end
    await once(socket, 'close');
  };
  const silent = async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.destroy();
  };
  await Promise.all(Array.from({ length: 300 }, (_, i) => [hangUpMidResponse, garbage, silent][i % 3]()));
  for (const size of scrapes % 2 ? [BIG.length, 2 * BIG.length] : [2 * BIG.length, BIG.length]) {
    const after = await fetch(s.url);
    t.is(after.status, 200);
    t.is((await after.arrayBuffer()).byteLength, size);
  }
});

test('a port in use is a clear error', async (t) => {
  const first = await server(t, () => body(''));
  const error = await t.throwsAsync(serveMetrics({ host: '127.0.0.1', port: first.port }, () => body('')), {
    instanceOf: WattmeterError,
  });
  t.regex(error!.message, new RegExp(`Cannot serve metrics on 127.0.0.1:${first.port}: .*EADDRINUSE`));
});
